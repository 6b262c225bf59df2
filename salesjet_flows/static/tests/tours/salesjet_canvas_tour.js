import { registry } from "@web/core/registry";

/**
 * Build the newsletter welcome flow on the canvas of a new, empty flow: a trigger,
 * a welcome email designed in Odoo's email designer, an SMS one day later, an A/B split with a step in each branch;
 * then start it. (The test posts an event between this tour and the next.)
 */
registry.category("web_tour.tours").add("salesjet_canvas_build_tour", {
    steps: () => [
        {
            content: "Name the new flow",
            trigger: ".o_form_view .o_field_widget[name=name] input",
            run: "edit Canvas welcome",
        },
        {
            content: "An empty flow shows the guide",
            trigger: ".o_salesjet_diagram .o_sj_empty",
        },
        {
            content: "Add a trigger from the canvas",
            trigger: ".o_salesjet_diagram .o_sj_add_trigger",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=trigger_type] select",
            run: 'select "api"',
        },
        {
            trigger: ".modal .o_field_widget[name=event_code] input",
            run: "edit canvas_welcome",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The trigger is drawn at the top",
            trigger: ".o_salesjet_diagram .o_sj_trigger:contains('canvas_welcome')",
        },
        {
            content: "Add the first step",
            trigger: ".o_salesjet_diagram .o_sj_chain[data-branch-id='0'] > .o_sj_edge_end .o_sj_add_end",
            run: "click",
        },
        {
            content: "The picker groups the actions by family",
            trigger: ".modal .o_sj_family_messages .o_sj_picker_type[data-action-type=email]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=email_subject] input",
            run: "edit Welcome to our newsletter",
        },
        {
            trigger: ".modal .o_notebook a.nav-link:contains('Email body')",
            run: "click",
        },
        {
            content: "The email is designed in Odoo's email designer: take its basic theme",
            trigger: '.modal [name="email_body_arch"] :iframe #basic',
            run: "click",
        },
        {
            trigger: '.modal [name="email_body_arch"] :iframe html:not(:has(.o_mail_theme_selector_new))',
        },
        {
            content: "Write the welcome in the designed email",
            trigger: '.modal [name="email_body_arch"] :iframe .o_layout p:first-child',
            run: "editor Thanks for joining us!",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal)) .o_salesjet_diagram .o_sj_step[data-action-type=email]",
        },
        {
            content: "Add an SMS after the email",
            trigger: ".o_salesjet_diagram .o_sj_chain[data-branch-id='0'] > .o_sj_edge_end .o_sj_add_end",
            run: "click",
        },
        {
            trigger: ".modal .o_sj_picker_type[data-action-type=sms]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=sms_body] textarea",
            run: "edit Welcome! Your first tip arrives tomorrow.",
        },
        {
            content: "One day after the email",
            trigger: ".modal .o_field_widget[name=timing] input[data-value=delay]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=delay_value] input",
            run: "edit 1",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal)) .o_salesjet_diagram .o_sj_step_wrap:has(.o_sj_step[data-action-type=sms]) .o_sj_when:contains('+1 days')",
        },
        {
            content: "Add an A/B split",
            trigger: ".o_salesjet_diagram .o_sj_chain[data-branch-id='0'] > .o_sj_edge_end .o_sj_add_end",
            run: "click",
        },
        {
            trigger: ".modal .o_sj_family_flows .o_sj_picker_type[data-action-type=split]",
            run: "click",
        },
        {
            trigger: ".modal .o_notebook a.nav-link:contains('A/B split')",
            run: "click",
        },
        {
            content: "The split starts with two even branches",
            trigger: ".modal .o_field_widget[name=branch_ids] .o_data_row:nth-child(2)",
        },
        {
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Which tone",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The branches are drawn side by side",
            trigger: "body:not(:has(.modal)) .o_salesjet_diagram .o_sj_branches:has(.o_sj_branch:contains('A')):has(.o_sj_branch:contains('B'))",
        },
        {
            content: "Add a step in branch A",
            trigger: ".o_salesjet_diagram .o_sj_branch:first-child .o_sj_add_end",
            run: "click",
        },
        {
            trigger: ".modal .o_sj_picker_type[data-action-type=note]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=note_body] textarea",
            run: "edit Took branch A",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal)) .o_salesjet_diagram .o_sj_branch:first-child .o_sj_step",
        },
        {
            content: "Add a step in branch B",
            trigger: ".o_salesjet_diagram .o_sj_branch:last-child .o_sj_add_end",
            run: "click",
        },
        {
            trigger: ".modal .o_sj_picker_type[data-action-type=note]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=note_body] textarea",
            run: "edit Took branch B",
        },
        {
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal)) .o_salesjet_diagram .o_sj_branch:last-child .o_sj_step",
        },
        {
            content: "Start the flow",
            trigger: ".o_form_view button[name=action_start]",
            run: "click",
        },
        {
            trigger: ".o_form_view button[name=action_open_stop_wizard]",
        },
    ],
});

/**
 * After an event enrolled a contact: the counts moved on the canvas; a number opens
 * its jobs, and a job opens its run.
 */
registry.category("web_tour.tours").add("salesjet_canvas_counts_tour", {
    steps: () => [
        {
            content: "The email was done for the new contact",
            trigger: ".o_salesjet_diagram .o_sj_step[data-action-type=email] .o_sj_count_done:contains('1')",
        },
        {
            content: "The contact waits a day on the SMS: open who waits",
            trigger: ".o_salesjet_diagram .o_sj_step[data-action-type=sms] .o_sj_count_pending:contains('1')",
            run: "click",
        },
        {
            content: "The waiting job of the contact",
            trigger: ".o_list_view .o_data_row:contains('Canvas reader') td[name=scheduled_date]",
            run: "click",
        },
        {
            content: "Open the run from the job",
            trigger: ".o_form_view .o_field_widget[name=enrollment_id] a",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=partner_id]:contains('Canvas reader')",
        },
    ],
});
