/*
 * The booking steps, on top of server-rendered pages that work without it.
 *
 * - htmx: which answers swap into the step (400 and 409 are steps to show: an invalid link, a time just taken;
 *   other errors are not, and a short message from the page says to reload), an answer that is not a step
 *   (a log-in page after a redirect) loads as a whole page, and after each swap the focus moves to the new
 *   step's heading and its title is announced.
 * - online sessions: each <time class="visitor-time"> also shows the time in the visitor's own zone.
 * - step 1: once a professional is picked, only the places where they work can be chosen.
 * - step 5: the hold's countdown.
 *
 * Every sentence comes from the page, translated by Django; this file holds none.
 */
(function () {
  "use strict";

  var FLOW_ID = "booking-flow";

  // --- the visitor's own time zone -----------------------------------------------------------------------

  function visitorZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  function formatted(instant, zone, options) {
    var language = document.documentElement.lang || undefined;
    return new Intl.DateTimeFormat(language, Object.assign({ timeZone: zone }, options)).format(instant);
  }

  function dayKey(instant, zone) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(instant);
  }

  /** Where the note goes: after the time, or after the clinic's zone printed next to it. */
  function anchorOf(element) {
    var next = element.nextElementSibling;
    return next && next.classList.contains("time-zone") ? next : element;
  }

  function addVisitorTime(element, zone) {
    var wording = element.closest("[data-visitor-time]");
    var clinicZone = element.getAttribute("data-clinic-zone");
    var instant = new Date(element.getAttribute("datetime"));
    if (!wording || !clinicZone || clinicZone === zone || isNaN(instant.getTime())) {
      return;
    }
    var clock = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    var text = formatted(instant, zone, clock);
    var sameDay = dayKey(instant, zone) === dayKey(instant, clinicZone);
    if (sameDay && text === formatted(instant, clinicZone, clock)) {
      return; // another name for the same wall-clock time: nothing new to tell
    }
    if (!sameDay) {
      text = formatted(instant, zone, { weekday: "short", day: "numeric", month: "short" }) + " " + text;
    }
    var note = document.createElement("span");
    note.className = "visitor-time-note";
    note.textContent = wording
      .getAttribute("data-visitor-time")
      .replace("{time}", text)
      .replace("{zone}", zone.replace(/_/g, " "));
    anchorOf(element).after(" ", note);
  }

  function setUpVisitorTimes(root) {
    var zone = visitorZone();
    if (!zone || !root.querySelectorAll) {
      return;
    }
    var elements = Array.prototype.slice.call(root.querySelectorAll("time.visitor-time"));
    if (root.matches && root.matches("time.visitor-time")) {
      elements.push(root);
    }
    elements.forEach(function (element) {
      var next = anchorOf(element).nextElementSibling;
      if (next && next.classList.contains("visitor-time-note")) {
        return; // already shown (htmx's history copy keeps the notes it saw)
      }
      try {
        addVisitorTime(element, zone);
      } catch (error) {
        // an unknown zone name: the clinic's time alone is still right
      }
    });
  }

  // --- step 5: the hold's countdown ---------------------------------------------------------------------

  function twoDigits(number) {
    return (number < 10 ? "0" : "") + number;
  }

  function startCountdown(box) {
    if (box.bookingCountdown) {
      return;
    }
    var secondsLeft = parseInt(box.getAttribute("data-seconds-left"), 10);
    if (isNaN(secondsLeft)) {
      return;
    }
    box.bookingCountdown = true;
    // Counted from this page's arrival, not from the visitor's clock, which may be wrong.
    var deadline = Date.now() + secondsLeft * 1000;
    var clock = box.querySelector("[data-countdown-clock]");
    var live = box.querySelector("[data-countdown-live]");
    var sentences = {};
    Array.prototype.forEach.call(box.querySelectorAll("[data-countdown-messages] [data-minutes]"), function (item) {
      sentences[item.getAttribute("data-minutes")] = item.textContent.trim();
    });
    var lastMinute = Math.ceil(secondsLeft / 60);
    var timer = null;

    function expire() {
      Array.prototype.forEach.call(box.querySelectorAll("[data-hold-active]"), function (element) {
        element.hidden = true;
      });
      var expired = box.querySelector("[data-countdown-expired]");
      if (expired) {
        expired.hidden = false;
        if (live) {
          live.textContent = expired.querySelector("p") ? expired.querySelector("p").textContent.trim() : "";
        }
      }
    }

    function tick() {
      if (!box.isConnected) {
        window.clearInterval(timer); // swapped away by htmx
        return;
      }
      var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      if (clock) {
        clock.textContent = twoDigits(Math.floor(left / 60)) + ":" + twoDigits(left % 60);
      }
      if (left === 0) {
        window.clearInterval(timer);
        expire();
        return;
      }
      // Spoken once a minute, as it reaches 14:00, 13:00 ... 01:00; the visible clock is aria-hidden.
      var minute = Math.ceil(left / 60);
      if (minute < lastMinute) {
        lastMinute = minute;
        if (live && sentences[minute]) {
          live.textContent = sentences[minute];
        }
      }
    }

    if (secondsLeft <= 0) {
      expire();
      return;
    }
    timer = window.setInterval(tick, 1000);
  }

  function setUpCountdowns(root) {
    if (!root.querySelectorAll) {
      return;
    }
    var boxes = Array.prototype.slice.call(root.querySelectorAll("[data-countdown]"));
    if (root.matches && root.matches("[data-countdown]")) {
      boxes.push(root);
    }
    boxes.forEach(startCountdown);
  }

  // --- step 1: only the places where the chosen professional works ----------------------------------------

  function setUpPlaceChoice(select) {
    var who = select.form && select.form.querySelector('select[name="professional"]');
    if (!who || select.bookingPlaces) {
      return;
    }
    select.bookingPlaces = true;
    function update() {
      var chosen = who.value;
      Array.prototype.forEach.call(select.options, function (option) {
        var working = option.getAttribute("data-professionals");
        var possible = !chosen || working === null || working.split(" ").indexOf(chosen) !== -1;
        option.hidden = !possible;
        option.disabled = !possible;
      });
      var current = select.options[select.selectedIndex];
      if (current && current.disabled) {
        var first = Array.prototype.filter.call(select.options, function (option) {
          return !option.disabled;
        })[0];
        if (first) {
          select.value = first.value;
        }
      }
    }
    who.addEventListener("change", update);
    update();
  }

  function setUpPlaceChoices(root) {
    if (!root.querySelectorAll) {
      return;
    }
    Array.prototype.forEach.call(root.querySelectorAll("select[data-place-select]"), setUpPlaceChoice);
  }

  function setUp(root) {
    setUpVisitorTimes(root);
    setUpCountdowns(root);
    setUpPlaceChoices(root);
  }

  // --- htmx -----------------------------------------------------------------------------------------------

  function isFlow(element) {
    return element && element.id === FLOW_ID;
  }

  function showError(show) {
    var box = document.getElementById("booking-error");
    if (!box) {
      return;
    }
    if (show) {
      box.hidden = false;
      box.textContent = box.getAttribute("data-message") || "";
    } else {
      box.hidden = true;
      box.textContent = "";
    }
  }

  function announce(text) {
    var region = document.getElementById("booking-announcer");
    if (!region) {
      return;
    }
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text; // a change after a pause, so screen readers notice it
    }, 100);
  }

  function focusNewStep() {
    var heading = document.getElementById("step-heading");
    if (!heading) {
      return;
    }
    if (!heading.hasAttribute("tabindex")) {
      heading.setAttribute("tabindex", "-1");
    }
    heading.focus({ preventScroll: true });
    // htmx takes the title from the bare step, which has no site name (it would cost a query): add it back.
    var siteName = document.querySelector('meta[property="og:site_name"]');
    if (siteName && siteName.content && document.title.indexOf(siteName.content) === -1) {
      document.title = document.title ? document.title + " | " + siteName.content : siteName.content;
    }
    var label = document.getElementById("step-label");
    var title = heading.textContent.trim();
    announce(label ? label.textContent.trim() + ". " + title : title);
  }

  function setUpHtmx(htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "40[09]", swap: true, error: false }, // an invalid link, a time just taken: steps to show
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false },
    ];

    var stepSwapped = false;

    document.addEventListener("htmx:beforeRequest", function (event) {
      showError(false);
      var flow = document.getElementById(FLOW_ID);
      if (flow && flow.contains(event.target)) {
        flow.setAttribute("aria-busy", "true");
      }
    });

    document.addEventListener("htmx:afterRequest", function () {
      var flow = document.getElementById(FLOW_ID);
      if (flow) {
        flow.removeAttribute("aria-busy");
      }
    });

    document.addEventListener("htmx:beforeSwap", function (event) {
      var detail = event.detail;
      if (!detail.shouldSwap || !isFlow(detail.target)) {
        return;
      }
      var body = detail.serverResponse || (detail.xhr && detail.xhr.responseText) || "";
      if (body.indexOf('id="' + FLOW_ID + '"') === -1) {
        // Not a step (the log-in page a redirect led to): load it as a page of its own.
        detail.shouldSwap = false;
        window.location.assign((detail.xhr && detail.xhr.responseURL) || window.location.href);
        return;
      }
      stepSwapped = true;
    });

    document.addEventListener("htmx:afterSettle", function () {
      if (stepSwapped) {
        stepSwapped = false;
        focusNewStep();
      }
    });

    document.addEventListener("htmx:historyRestore", function () {
      focusNewStep();
    });

    document.addEventListener("htmx:responseError", function () {
      showError(true);
    });
    document.addEventListener("htmx:sendError", function () {
      showError(true);
    });

    htmx.onLoad(setUp); // the page itself, then every swapped-in step
  }

  function start() {
    if (window.htmx) {
      setUpHtmx(window.htmx);
    } else {
      setUp(document);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
