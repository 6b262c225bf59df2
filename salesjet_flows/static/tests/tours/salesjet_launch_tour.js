import { registry } from "@web/core/registry";

/**
 * A Flows administrator launches a running flow for a segment larger than one request may enrol:
 * the wizard counts the contacts, the launch is queued and a notification says it goes on in the background.
 * (The test then runs the scheduled action and checks the runs.)
 */
registry.category("web_tour.tours").add("salesjet_background_launch_tour", {
    steps: () => [
        {
            content: "Open the launch wizard from the flow's form",
            trigger: ".o_form_view .o_form_statusbar button[name=action_open_launch_wizard]",
            run: "click",
        },
        {
            content: "The wizard counts the segment's contacts",
            trigger: ".modal .o_field_widget[name=contact_count]:contains(5)",
        },
        {
            content: "Launch",
            trigger: ".modal footer button[name=action_launch]",
            run: "click",
        },
        {
            content: "The launch goes on in the background, and the wizard is closed",
            trigger: ".o_notification:contains(in the background)",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});
