/** @odoo-module ignore **/
// SalesJet Flows: "page left" beacon and exit-intent pop-up.
// The page carries #salesjet_exit_intent only when an active "Page left" trigger watches it.
(function () {
    "use strict";

    function init() {
        const el = document.getElementById("salesjet_exit_intent");
        if (!el) {
            return;
        }
        el.dataset.ready = "1"; // the script is listening (tests and support wait for it)
        const path = window.location.pathname;
        let beaconSent = false;

        function sendBeacon() {
            if (beaconSent || el.dataset.beacon !== "1") {
                return;
            }
            beaconSent = true;
            const body = JSON.stringify({ path: path, url: window.location.href.slice(0, 2000) });
            if (navigator.sendBeacon) {
                navigator.sendBeacon("/salesjet/page_left", new Blob([body], { type: "application/json" }));
            } else {
                fetch("/salesjet/page_left", {
                    method: "POST", body: body, keepalive: true, headers: { "Content-Type": "application/json" },
                });
            }
        }

        function showPopup() {
            const storageKey = "salesjet_exit_popup:" + path;
            try {
                if (window.sessionStorage.getItem(storageKey)) {
                    return;
                }
                window.sessionStorage.setItem(storageKey, "1");
            } catch {
                // storage refused (private mode): show it once per page load
            }
            const overlay = document.createElement("div");
            overlay.className = "salesjet_exit_popup position-fixed top-0 start-0 w-100 h-100 d-flex " +
                "align-items-center justify-content-center";
            overlay.style.cssText = "background: rgba(0,0,0,.5); z-index: 2000;";
            overlay.setAttribute("role", "dialog");
            overlay.setAttribute("aria-modal", "true");
            const box = document.createElement("div");
            box.className = "bg-white rounded p-4 shadow text-center";
            box.style.maxWidth = "28rem";
            const title = document.createElement("h3");
            title.textContent = el.dataset.popupTitle;
            const text = document.createElement("p");
            text.style.whiteSpace = "pre-line";
            text.textContent = el.dataset.popupText || "";
            box.append(title, text);
            const url = el.dataset.popupButtonUrl || "";
            if (url && (url.startsWith("/") || /^https?:\/\//.test(url))) {
                const button = document.createElement("a");
                button.className = "btn btn-primary me-2";
                button.href = url;
                button.textContent = el.dataset.popupButtonLabel || url;
                box.append(button);
            }
            const close = document.createElement("button");
            close.type = "button";
            close.className = "btn btn-secondary salesjet_exit_popup_close";
            close.textContent = "×";
            close.setAttribute("aria-label", "Close");
            close.addEventListener("click", () => overlay.remove());
            box.append(close);
            overlay.addEventListener("click", (ev) => {
                if (ev.target === overlay) {
                    overlay.remove();
                }
            });
            overlay.append(box);
            document.body.append(overlay);
        }

        document.addEventListener("visibilitychange", () => {
            if (document.visibilityState === "hidden") {
                sendBeacon();
            }
        });
        window.addEventListener("pagehide", sendBeacon);
        if (el.dataset.popupTitle) {
            let shown = false;
            // the mouse leaves the window through its top edge: towards the tabs, the address bar, the close button
            document.documentElement.addEventListener("mouseleave", (ev) => {
                if (!shown && ev.clientY <= 0) {
                    shown = true;
                    showPopup();
                }
            });
        }
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", init);
    } else {
        init();
    }
})();
