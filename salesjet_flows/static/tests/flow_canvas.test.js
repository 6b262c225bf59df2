import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { beforeEach, describe, expect, test } from "@odoo/hoot";
import { queryAll, queryAllTexts, queryAttribute } from "@odoo/hoot-dom";
import { animationFrame } from "@odoo/hoot-mock";
import {
    contains,
    defineModels,
    fields,
    mockService,
    models,
    mountView,
    onRpc,
} from "@web/../tests/web_test_helpers";

describe.current.tags("desktop");

const counts = (pending = 0, done = 0, skipped = 0, failed = 0) => ({ pending, done, skipped, failed });

function node(id, title, extra = {}) {
    return {
        id,
        title,
        action: "Add tag",
        action_type: "add_tag",
        family: "contact",
        icon: "fa-tag",
        summary: `${title}, now`,
        when: "now",
        conditions: "",
        stop_on_fail: false,
        repeat: "",
        active: true,
        sequence: id * 10,
        branch_id: false,
        counts: counts(),
        ...extra,
    };
}

/** A welcome flow: an email, an SMS a day later, then a split with a step in each branch. */
function welcomeData(editable = true) {
    return {
        editable,
        triggers: [{ id: 1, name: "Event posted through the API: newsletter" }],
        steps: [
            node(1, "Welcome email", {
                action_type: "email",
                family: "messages",
                icon: "fa-envelope",
                counts: counts(2, 10, 1, 0),
                stats: { sent: 10, opened: 6, clicked: 3, opened_rate: 60, clicked_rate: 30 },
            }),
            node(2, "Welcome SMS", {
                action_type: "sms",
                when: "+1 days",
                counts: counts(4, 5, 0, 1),
                stats: { sent: 5, opened: null, clicked: 1, opened_rate: null, clicked_rate: 20 },
            }),
            node(3, "Which offer", {
                action_type: "split",
                branches: [
                    { id: 31, name: "A", percentage: 50, winner: false },
                    { id: 32, name: "B", percentage: 50, winner: false },
                ],
            }),
            node(4, "Branch A › Tag A", { branch_id: 31, branch: "A", card_title: "Tag A" }),
            node(5, "Branch B › Tag B", { branch_id: 32, branch: "B", card_title: "Tag B" }),
        ],
    };
}

class SalesjetFlow extends models.Model {
    _name = "salesjet.flow";
    name = fields.Char();
    suggested_trigger_type = fields.Char();
    diagram_data = fields.Json();
    _records = [
        // the mock server stores a json field as text: web_read gives it back parsed (below)
        { id: 1, name: "Newsletter welcome", diagram_data: JSON.stringify(welcomeData()) },
        { id: 2, name: "Read only", diagram_data: JSON.stringify(welcomeData(false)) },
        { id: 3, name: "Empty", diagram_data: JSON.stringify({ editable: true, triggers: [], steps: [] }) },
        {
            id: 4,
            name: "Long",
            diagram_data: JSON.stringify({
                editable: true,
                triggers: [],
                steps: Array.from({ length: 150 }, (_v, i) => node(i + 1, `Step ${i + 1}`)),
            }),
        },
    ];
    _views = {
        form: `<form><field name="name"/><field name="diagram_data" widget="salesjet_flow_diagram" readonly="1"/></form>`,
    };
}

class SalesjetFlowStep extends models.Model {
    _name = "salesjet.flow.step";
    name = fields.Char();
    flow_id = fields.Many2one({ relation: "salesjet.flow" });
    sequence = fields.Integer();
    action_type = fields.Char();
    _views = {
        form: `<form><field name="name"/><field name="action_type"/><field name="sequence"/></form>`,
    };
}

class SalesjetFlowTrigger extends models.Model {
    _name = "salesjet.flow.trigger";
    name = fields.Char();
    flow_id = fields.Many2one({ relation: "salesjet.flow" });
    _views = { form: `<form><field name="name"/></form>` };
}

defineMailModels();
defineModels([SalesjetFlow, SalesjetFlowStep, SalesjetFlowTrigger]);

beforeEach(() => {
    for (const method of ["web_read", "web_save"]) {
        onRpc("salesjet.flow", method, ({ parent }) =>
            parent().map((values) => ({
                ...values,
                diagram_data:
                    typeof values.diagram_data === "string"
                        ? JSON.parse(values.diagram_data)
                        : values.diagram_data,
            }))
        );
    }
});

const PICKER = [
    {
        key: "messages",
        label: "Messages",
        types: [
            { type: "email", label: "Send email", icon: "fa-envelope", help: "Send an email." },
            { type: "sms", label: "Send SMS", icon: "fa-mobile", help: "Send a text message." },
        ],
    },
    {
        key: "contact",
        label: "Contact",
        types: [{ type: "add_tag", label: "Add tag", icon: "fa-tag", help: "Tag the contact." }],
    },
    {
        key: "loyalty",
        label: "Loyalty",
        types: [{ type: "loyalty_accrue", label: "Accrue bonus points", icon: "fa-star", help: "Points." }],
    },
];

test("the canvas draws the triggers, the steps in order and a split's branches side by side", async () => {
    await mountView({ type: "form", resModel: "salesjet.flow", resId: 1 });
    expect(".o_sj_trigger").toHaveCount(1);
    expect(".o_sj_trigger").toHaveText("Event posted through the API: newsletter");
    // the main chain: email, SMS, split; each branch in its own column with its share and step
    expect(".o_sj_canvas > .o_sj_chain > .o_sj_step_wrap > .o_sj_step .o_sj_title").toHaveCount(3);
    expect(queryAllTexts(".o_sj_branch .o_sj_branch_head")).toEqual(["A50 %", "B50 %"]);
    expect(queryAllTexts(".o_sj_branch .o_sj_title")).toEqual(["Tag A", "Tag B"]);
    expect(".o_sj_step_wrap[data-step-id='2'] .o_sj_when").toHaveText("+1 days");
    expect(".o_sj_empty").toHaveCount(0);
    // a "+" before each step, at the end of the main chain and at the end of each branch
    expect(".o_sj_add").toHaveCount(5 + 1 + 2);
    expect(".o_sj_add_end").toHaveCount(3);
});

test("a '+' opens the picker grouped by family, and the chosen type opens its form at its place", async () => {
    onRpc("salesjet.flow.step", "canvas_action_picker", () => PICKER);
    onRpc("salesjet.flow.step", "canvas_insert_sequence", ({ args }) => {
        expect.step(`insert after ${args[1]} in branch ${args[2]}`);
        return 25;
    });
    onRpc("salesjet.flow.step", "onchange", ({ kwargs }) => {
        const ctx = kwargs.context;
        expect.step(`new ${ctx.default_action_type} seq ${ctx.default_sequence} branch ${ctx.default_branch_id}`);
    });
    await mountView({ type: "form", resModel: "salesjet.flow", resId: 1 });
    // the "+" at the end of branch B
    await contains(".o_sj_branch[data-branch-id='32'] .o_sj_add_end").click();
    expect(".modal .o_sj_picker").toHaveCount(1);
    expect(queryAllTexts(".modal .o_sj_family_label")).toEqual(["Messages", "Contact", "Loyalty"]);
    expect(".modal .o_sj_picker_type").toHaveCount(4);
    expect(queryAttribute(".modal .o_sj_picker_type[data-action-type='email']", "aria-label")).toBe(
        "Send email: Send an email."
    );
    // the search narrows the families
    await contains(".modal .o_sj_picker_search").edit("bonus", { confirm: false });
    expect(queryAllTexts(".modal .o_sj_family_label")).toEqual(["Loyalty"]);
    await contains(".modal .o_sj_picker_search").clear({ confirm: false });
    await contains(".modal .o_sj_picker_type[data-action-type='sms']").click();
    await animationFrame();
    expect.verifySteps(["insert after 5 in branch 32", "new sms seq 25 branch 32"]);
    expect(".modal .o_form_view .o_field_widget[name=action_type]").toHaveCount(1);
    expect(".modal .o_sj_picker").toHaveCount(0);
});

test("the '+' between two main steps places the new step after the first of them", async () => {
    onRpc("salesjet.flow.step", "canvas_action_picker", () => PICKER);
    onRpc("salesjet.flow.step", "canvas_insert_sequence", ({ args }) => {
        expect.step(`insert after ${args[1]} in branch ${args[2]}`);
        return 15;
    });
    await mountView({ type: "form", resModel: "salesjet.flow", resId: 1 });
    await contains(".o_sj_step_wrap[data-step-id='2'] > .o_sj_edge .o_sj_add").click();
    await contains(".modal .o_sj_picker_type[data-action-type='add_tag']").click();
    await animationFrame();
    expect.verifySteps(["insert after 1 in branch false"]);
});

test("every figure of a card is a labelled button that opens its jobs or contacts", async () => {
    onRpc("salesjet.flow.step", "action_open_jobs", ({ args }) => {
        expect.step(`jobs ${args[0]} ${args[1]}`);
        return { type: "ir.actions.act_window", res_model: "salesjet.flow.job" };
    });
    onRpc("salesjet.flow.step", "action_open_contacts", ({ args }) => {
        expect.step(`contacts ${args[0]} ${args[1]}`);
        return { type: "ir.actions.act_window", res_model: "res.partner" };
    });
    mockService("action", { doAction: (action) => expect.step(`open ${action.res_model}`) });
    await mountView({ type: "form", resModel: "salesjet.flow", resId: 1 });
    const email = ".o_sj_step[data-step-id='1']";
    expect(queryAllTexts(`${email} .o_sj_count`)).toEqual(["2", "10", "1", "0"]);
    expect(queryAllTexts(`${email} .o_sj_stat`)).toEqual(["10", "6(60 %)", "3(30 %)"]);
    expect(queryAttribute(`${email} .o_sj_count_pending`, "aria-label")).toBe("Waiting: 2, show these jobs");
    // an SMS has no opens
    expect(".o_sj_step[data-step-id='2'] .o_sj_stat").toHaveCount(2);
    // a tag step has no message figures
    expect(".o_sj_step[data-step-id='4'] .o_sj_stat").toHaveCount(0);
    await contains(`${email} .o_sj_count_failed`).click();
    await contains(`${email} .o_sj_stat_opened`).click();
    await contains(".o_sj_step[data-step-id='2'] .o_sj_count_pending").click();
    expect.verifySteps([
        "jobs 1 failed",
        "open salesjet.flow.job",
        "contacts 1 opened",
        "open res.partner",
        "jobs 2 pending",
        "open salesjet.flow.job",
    ]);
    for (const button of queryAll(".o_sj_canvas button")) {
        expect(Boolean(button.getAttribute("aria-label") || button.textContent.trim())).toBe(true, {
            message: "every button of the canvas has a name for screen readers",
        });
    }
});

test("moving with the arrow buttons and removing go through the server's guarded methods", async () => {
    onRpc("salesjet.flow.step", "canvas_move", ({ args }) => {
        expect.step(`move ${args.join(" ")}`);
        return true;
    });
    onRpc("salesjet.flow.step", "action_canvas_remove", ({ args }) => {
        expect.step(`remove ${args[0]}`);
        return { type: "ir.actions.act_window", res_model: "salesjet.flow.step.remove" };
    });
    mockService("action", { doAction: (action) => expect.step(`open ${action.res_model}`) });
    await mountView({ type: "form", resModel: "salesjet.flow", resId: 1 });
    // the first step cannot go up, the last of a chain cannot go down
    expect(".o_sj_step[data-step-id='1'] .o_sj_move_up").toHaveCount(0);
    expect(".o_sj_step[data-step-id='3'] .o_sj_move_down").toHaveCount(0);
    expect(".o_sj_step[data-step-id='4'] .o_sj_move_up").toHaveCount(0);
    await contains(".o_sj_step[data-step-id='1'] .o_sj_move_down").click();
    await contains(".o_sj_step[data-step-id='3'] .o_sj_move_up").click();
    await contains(".o_sj_step[data-step-id='2'] .o_sj_remove").click();
    expect(".modal-body").toHaveText(/Remove step “Welcome SMS”\?/);
    await contains(".modal-footer .btn-primary").click();
    expect.verifySteps(["move 1 2 true", "move 3 2 false", "remove 2", "open salesjet.flow.step.remove"]);
});

test("a read-only canvas shows the figures but no '+', move or remove", async () => {
    await mountView({ type: "form", resModel: "salesjet.flow", resId: 2 });
    expect(".o_sj_step").toHaveCount(5);
    expect(".o_sj_add, .o_sj_add_trigger, .o_sj_remove, .o_sj_move_up, .o_sj_drag").toHaveCount(0);
    expect(".o_sj_count").toHaveCount(20);
});

test("a new flow shows a short guide and a button that adds its first trigger", async () => {
    onRpc("salesjet.flow.trigger", "onchange", ({ kwargs }) => {
        expect.step(`new trigger of flow ${kwargs.context.default_flow_id}`);
    });
    await mountView({ type: "form", resModel: "salesjet.flow", resId: 3 });
    expect(".o_sj_empty").toHaveCount(1);
    expect(".o_sj_empty li").toHaveCount(3);
    expect(".o_sj_add_end").toHaveCount(1);
    await contains(".o_sj_add_trigger").click();
    await animationFrame();
    expect.verifySteps(["new trigger of flow 3"]);
    expect(".modal .o_form_view .o_field_widget[name=name]").toHaveCount(1);
});

test("a flow of 150 steps is drawn compact and in windows of 60 cards", async () => {
    await mountView({ type: "form", resModel: "salesjet.flow", resId: 4 });
    expect(".o_salesjet_diagram").toHaveClass("o_salesjet_diagram_compact");
    expect(".o_sj_step").toHaveCount(60);
    expect(".o_sj_add_end").toHaveCount(0, { message: "no '+' at the end before the end is drawn" });
    expect(".o_sj_show_more").toHaveText("Show 90 more steps");
    await contains(".o_sj_show_more").click();
    await contains(".o_sj_show_more").click();
    expect(".o_sj_step").toHaveCount(150);
    expect(".o_sj_show_more").toHaveCount(0);
    expect(".o_sj_add_end").toHaveCount(1);
    expect(".o_sj_step_wrap[data-step-id='150'] .o_sj_index").toHaveText("150");
});
