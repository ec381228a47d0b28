/*
 * The clinic's booking box on another site, from one tag:
 *
 *   <script src="https://clinic.example/static/widget/embed.js" data-service="therapy" data-professional="ana"
 *           data-location="providencia" data-modality="online" data-lang="en" async></script>
 *
 * inserts an <iframe> showing https://clinic.example/embed/booking/?service=therapy&… right after the tag and
 * keeps its height equal to the box's content (embed-frame.js, inside the frame, posts it). The box's address
 * is the script's own origin, so the same file works for any clinic that serves it. Several tags on one page
 * give several independent boxes. Optional: data-title (the frame's name for screen readers), data-team,
 * data-category (passed on as they are). The clinic must list this site in its settings ("sites allowed to
 * embed the booking box"); otherwise the browser refuses to show the frame.
 *
 * No dependencies, plain ES2017.
 */
(function () {
  "use strict";

  var RESIZE_MESSAGE = "clinic-booking:resize";
  var STEP_MESSAGE = "clinic-booking:step";
  var EMBED_PATH = "/embed/booking/";
  var PARAMETERS = ["service", "professional", "team", "category", "location", "modality", "lang"];
  var TITLES = { en: "Book a session", es: "Agenda tu sesión" };
  var MAX_HEIGHT = 20000; // px: a runaway page must not make the host page endless

  function frameTitle(script) {
    var title = script.getAttribute("data-title");
    if (title) {
      return title;
    }
    var language = (script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "")
      .slice(0, 2)
      .toLowerCase();
    return TITLES[language] || TITLES.es;
  }

  function boxUrl(script, origin) {
    var query = new URLSearchParams();
    PARAMETERS.forEach(function (name) {
      var value = (script.getAttribute("data-" + name) || "").trim();
      if (value) {
        query.set(name, value);
      }
    });
    var search = query.toString();
    return origin + EMBED_PATH + (search ? "?" + search : "");
  }

  function place(script, iframe) {
    var parent = script.parentNode;
    if (parent && parent !== document.head && parent !== document.documentElement) {
      parent.insertBefore(iframe, script.nextSibling);
    } else if (document.body) {
      document.body.appendChild(iframe); // a tag in <head>: the box goes at the end of the page
    } else {
      document.addEventListener("DOMContentLoaded", function () {
        document.body.appendChild(iframe);
      });
    }
  }

  function install(script) {
    if (script.hasAttribute("data-clinic-booking")) {
      return;
    }
    script.setAttribute("data-clinic-booking", "installed");
    var origin = new URL(script.src, document.baseURI).origin;

    var iframe = document.createElement("iframe");
    iframe.src = boxUrl(script, origin);
    iframe.title = frameTitle(script);
    iframe.className = "clinic-booking-frame";
    iframe.loading = "lazy";
    iframe.setAttribute("loading", "lazy");
    iframe.style.display = "block";
    iframe.style.width = "100%";
    iframe.style.border = "0";

    // A new step starts at its top: bring the box's top back into view if the visitor had scrolled past it.
    function showTop() {
      if (iframe.getBoundingClientRect().top < -1) { // -1: sub-pixel positions are "at the top"
        iframe.scrollIntoView({ block: "start" });
      }
    }

    // Only this frame, showing the clinic's own pages, may talk to us; any other message is ignored.
    window.addEventListener("message", function (event) {
      if (event.source !== iframe.contentWindow || event.origin !== origin) {
        return;
      }
      var data = event.data;
      if (data && data.type === RESIZE_MESSAGE) {
        var height = Number(data.height);
        if (Number.isFinite(height) && height > 0) {
          iframe.style.height = Math.min(Math.ceil(height), MAX_HEIGHT) + "px";
        }
      } else if (data && data.type === STEP_MESSAGE) {
        showTop();
      }
    });

    var loads = 0;
    iframe.addEventListener("load", function () {
      loads += 1;
      if (loads > 1) {
        showTop(); // a step loaded as a whole page (no htmx)
      }
    });

    place(script, iframe);
  }

  var current = document.currentScript;
  if (current && current.src) {
    install(current);
  } else {
    // Inserted in a way that hides currentScript (some tag managers): take every tag not installed yet.
    Array.prototype.forEach.call(document.querySelectorAll('script[src*="widget/embed.js"]'), install);
  }
})();
