/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { SmsWidget, smsWidget } from "@sms/components/sms_widget/fields_sms_widget";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { useDebounced } from "@web/core/utils/timing";
import { useRecordObserver } from "@web/model/relational_model/utils";
import { useEffect, useState } from "@odoo/owl";

/**
 * The SMS composer of a flow step: Odoo's SMS widget (the text, its length and its segments counted with
 * Odoo's GSM-7/UCS-2 rules) plus a live preview of the text as the step's sample contact
 * (``preview_partner_id``, picked beside it) receives it, rendered on the server by the step's own preview,
 * its links tracked, with the length and segments of that rendered text: what the contact is billed.
 *
 * Both follow the text as it is typed (Odoo's text field writes the record only when it loses the focus).
 */
export class SalesjetSmsComposer extends SmsWidget {
    static template = "salesjet_flows.SmsComposer";

    setup() {
        super.setup();
        this.orm = useService("orm");
        this.live = useState({ text: null });
        this.preview = useState({ text: "", partner: "", error: false, loaded: false });
        this.lastKey = null;
        this.refreshPreview = useDebounced(() => this.fetchPreview(), 300);
        useEffect(
            (textarea) => {
                if (!textarea) {
                    return;
                }
                const onInput = () => {
                    this.live.text = textarea.value;
                    this.schedulePreview();
                };
                textarea.addEventListener("input", onInput);
                return () => textarea.removeEventListener("input", onInput);
            },
            () => [this.targetEditElement.el]
        );
        this.recordText = undefined;
        useRecordObserver((record) => {
            // read here, so that a change of either runs this again
            const recordText = record.data[this.props.name] || "";
            const partner = record.data.preview_partner_id;
            if (recordText !== this.recordText) {
                // the record holds the text again (committed, saved or discarded)
                this.recordText = recordText;
                this.live.text = null;
            }
            this.schedulePreview(partner);
        });
    }

    /** The text being written, typed or not yet committed to the record. */
    get text() {
        return this.live.text ?? (this.props.record.data[this.props.name] || "");
    }

    schedulePreview(partner = this.props.record.data.preview_partner_id) {
        const key = JSON.stringify([this.text, partner && partner[0]]);
        if (key !== this.lastKey) {
            this.lastKey = key;
            this.refreshPreview();
        }
    }

    async fetchPreview() {
        const record = this.props.record;
        const body = this.text;
        if (!body.trim()) {
            Object.assign(this.preview, { text: "", partner: "", error: false, loaded: true });
            return;
        }
        const partner = record.data.preview_partner_id;
        const result = await this.orm.call(
            "salesjet.flow.step",
            "sms_composer_preview",
            [record.resId ? [record.resId] : []],
            { body, partner_id: (partner && partner[0]) || false }
        );
        if (body === this.text) {
            Object.assign(this.preview, result, { loaded: true });
        }
    }

    /** @override: count the text as typed */
    get encoding() {
        return this._extractEncoding(this.text);
    }

    /** @override */
    get nbrChar() {
        const content = this._getValueForSmsCounts(this.text);
        return content.length + (content.match(/\n/g) || []).length;
    }

    get previewEncoding() {
        return this._extractEncoding(this.preview.text);
    }

    get previewChars() {
        const text = this.preview.text;
        return text.length + (text.match(/\n/g) || []).length;
    }

    get previewSMS() {
        return this._countSMS(this.previewChars, this.previewEncoding);
    }

    get previewCount() {
        return _t("%(chars)s characters, fits in %(count)s SMS (%(encoding)s)", {
            chars: this.previewChars,
            count: this.previewSMS,
            encoding: this.previewEncoding,
        });
    }
}

export const salesjetSmsComposer = {
    ...smsWidget,
    component: SalesjetSmsComposer,
    fieldDependencies: [{ name: "preview_partner_id", type: "many2one", relation: "res.partner" }],
};

registry.category("fields").add("salesjet_sms_composer", salesjetSmsComposer);
