import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

/**
 * An email step's body in Odoo's email designer: its themes, a building block dragged in, the mobile
 * preview at hand, saved as the step's email.
 */
registry.category("web_tour.tours").add("salesjet_email_designer_tour", {
    steps: () => [
        {
            content: "Open the email's body",
            trigger: ".o_notebook .nav-link:contains('Email body')",
            run: "click",
        },
        {
            content: "The designer offers its themes: take the empty one to build with blocks",
            trigger: '[name="email_body_arch"] :iframe #empty',
            run() {
                this.anchor.click();
            },
        },
        {
            trigger: '[name="email_body_arch"] :iframe .o_editable[data-editor-message="DRAG BUILDING BLOCKS HERE"]',
        },
        {
            content: "The mobile preview is at hand",
            trigger: '[name="email_body_arch"] .o_mobile_preview_btn',
        },
        {
            content: "Drag the Title block into the email",
            trigger: '[name="email_body_arch"] #oe_snippets [name="Title"] .oe_snippet_thumbnail',
            async run(helpers) {
                await helpers.drag_and_drop('[name="email_body_arch"] :iframe .o_editable', {
                    position: { top: 340 },
                });
            },
        },
        {
            trigger: "body:not(:has(.o_we_ongoing_insertion))",
        },
        {
            trigger: '[name="email_body_arch"] :iframe .o_editable h1',
        },
        ...stepUtils.saveForm(),
    ],
});

/**
 * An SMS step's composer: the text's length and segments (Odoo's GSM-7/UCS-2 rules) and its preview for
 * the sample contact, counted again as rendered.
 */
registry.category("web_tour.tours").add("salesjet_sms_composer_tour", {
    steps: () => [
        {
            content: "Write a short text with a placeholder",
            trigger: "[name='sms_body'] textarea",
            run: "edit Hi {{ object.name }}",
        },
        {
            content: "Odoo's counter follows the text as typed (braces are outside GSM-7: Unicode)",
            trigger: "[name='sms_body'] .o_sms_count:contains('20 characters')",
        },
        {
            content: "The preview renders it for the sample contact",
            trigger: ".o_salesjet_sms_preview_text:contains('Hi Sarah Composer')",
        },
        {
            content: "What the contact receives fits in one GSM-7 SMS",
            trigger: ".o_salesjet_sms_preview_count:contains('17 characters, fits in 1 SMS (GSM7)')",
        },
        {
            content: "A long text takes several segments",
            trigger: "[name='sms_body'] textarea",
            run: `edit ${"Hello {{ object.name }}, ".repeat(8)}`,
        },
        {
            content: "As typed, three Unicode segments; as received, two GSM-7 ones",
            trigger: "[name='sms_body'] .o_sms_count:contains('fits in 3 SMS (UNICODE)')",
        },
        {
            trigger: ".o_salesjet_sms_preview_count:contains('fits in 2 SMS (GSM7)')",
        },
        {
            content: "A character outside GSM-7 makes every segment shorter (UCS-2)",
            trigger: "[name='sms_body'] textarea",
            run: `edit Привет {{ object.name }}! ${"ж".repeat(70)}`,
        },
        {
            trigger: ".o_salesjet_sms_preview_text:contains('Привет Sarah Composer')",
        },
        {
            trigger: ".o_salesjet_sms_preview_count:contains('fits in 2 SMS (UNICODE)')",
        },
        {
            trigger: "[name='sms_body'] .o_sms_count:contains('fits in 2 SMS (UNICODE)')",
        },
    ],
});
