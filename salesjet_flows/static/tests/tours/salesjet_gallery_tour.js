import { registry } from "@web/core/registry";

/**
 * From the flows, open the gallery of ready-made flows, use "Newsletter welcome",
 * change the delay of its SMS step from the diagram, see the diagram follow, and
 * run the flow in a test run.
 */
registry.category("web_tour.tours").add("salesjet_gallery_tour", {
    steps: () => [
        {
            content: "Open the gallery from the flows",
            trigger: ".o_control_panel button:contains('From a template')",
            run: "click",
        },
        {
            content: "Use the newsletter welcome",
            trigger: ".o_kanban_record:contains('Newsletter welcome') button.o_salesjet_use_template",
            run: "click",
        },
        {
            content: "The diagram draws the three steps, the SMS one day after the thank-you",
            trigger: ".o_salesjet_diagram .o_sj_step:contains('Welcome SMS')",
        },
        {
            trigger: ".o_salesjet_diagram:has(.o_sj_step:contains('Our most popular product')) .o_sj_when:contains('+1 days')",
        },
        {
            content: "Open the SMS step from the diagram",
            trigger: ".o_salesjet_diagram .o_sj_step:contains('Welcome SMS')",
            run: "click",
        },
        {
            content: "Wait two days instead of one",
            trigger: ".modal .o_field_widget[name=delay_value] input",
            run: "edit 2",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The diagram shows the new delay",
            trigger: ".o_salesjet_diagram .o_sj_when:contains('+2 days')",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "Open a test run",
            trigger: ".o_form_view button[name=action_open_test_run]",
            run: "click",
        },
        {
            trigger: ".modal button[name=action_run_to_end]",
            run: "click",
        },
        {
            content: "Each step shows what it would do",
            trigger: ".modal .o_salesjet_test_run_lines .o_kanban_record:contains('Welcome SMS'):contains('thanks for joining our newsletter')",
        },
        {
            trigger: ".modal .o_salesjet_test_run_lines .o_kanban_record:contains('Welcome aboard, ')",
        },
        {
            trigger: ".modal .o_salesjet_test_run_lines:has(.o_kanban_record:contains('Our most popular product'))",
        },
        {
            content: "Close the test run",
            trigger: ".modal .modal-footer button.btn-link:contains('Close')",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal)) .o_salesjet_diagram .o_sj_when:contains('+2 days')",
        },
    ],
});
