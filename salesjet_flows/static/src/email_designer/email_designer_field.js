/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { HtmlField } from "@web_editor/js/backend/html_field";
import {
    MassMailingHtmlField,
    massMailingHtmlField,
} from "@mass_mailing/js/mass_mailing_html_field";

/**
 * Odoo's email designer (Email Marketing's mass_mailing_html: themes, building blocks, mobile preview) on a
 * flow step's email. It edits the step's design (``email_body_arch``) and writes the inline-styled copy
 * that is sent into the step's body (``email_body``), as mailing.mailing's form does with body_arch and
 * body_html. Only the names of those fields differ, so this extends the designer rather than copying it.
 */
export class SalesjetEmailDesignerField extends MassMailingHtmlField {
    /**
     * Read-only (a Flows user, a locked step), a step without design yet shows the body it sends.
     * @override
     */
    async _setupReadonlyIframe() {
        const data = this.props.record.data;
        if (!(data[this.props.name] || "").length && this.props.inlineField) {
            data[this.props.name] = data[this.props.inlineField] || "";
        }
        // skip mass_mailing's override: it falls back on mailing.mailing's body_html
        await HtmlField.prototype._setupReadonlyIframe.call(this);
    }
}

export const salesjetEmailDesignerField = {
    ...massMailingHtmlField,
    component: SalesjetEmailDesignerField,
    displayName: _t("Email designer"),
    // mass_mailing_html depends on mailing.mailing's body_html: the step's body is its inline field
    fieldDependencies: [{ name: "email_body", type: "html", readonly: "false" }],
};

registry.category("fields").add("salesjet_email_designer", salesjetEmailDesignerField);
