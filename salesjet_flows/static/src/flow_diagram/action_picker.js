import { Component, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { _t } from "@web/core/l10n/translation";
import { useAutofocus } from "@web/core/utils/hooks";

/**
 * The action picker of the flow canvas: the step types grouped by family
 * (server: salesjet.flow.step canvas_action_picker), each with its icon and a
 * one-line help, and a search box. Choosing a type calls onSelect(type, label).
 */
export class ActionPicker extends Component {
    static template = "salesjet_flows.ActionPicker";
    static components = { Dialog };
    static props = {
        families: Array,
        onSelect: Function,
        title: { type: String, optional: true },
        close: Function,
    };

    setup() {
        this.state = useState({ search: "" });
        useAutofocus({ refName: "search" });
    }

    get title() {
        return this.props.title || _t("Add a step");
    }

    get families() {
        const search = this.state.search.trim().toLowerCase();
        if (!search) {
            return this.props.families;
        }
        return this.props.families
            .map((family) => ({
                ...family,
                types: family.types.filter((t) =>
                    `${t.label} ${t.help} ${family.label}`.toLowerCase().includes(search)
                ),
            }))
            .filter((family) => family.types.length);
    }

    select(type) {
        this.props.onSelect(type.type, type.label);
        this.props.close();
    }
}
