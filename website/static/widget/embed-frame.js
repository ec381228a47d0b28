/*
 * Inside the embedded booking box (/embed/booking/): tell the page that frames it how tall this document is,
 * so embed.js can size the iframe to the step instead of showing a scrollbar inside another site's page.
 *
 * The message is sent to any origin ("*") on purpose: a height is not secret, and the frame cannot know the
 * parent's origin (the allow-list is enforced by the Content-Security-Policy header, not here). embed.js, on the
 * other side, accepts the message only from this frame and this origin.
 */
(function () {
  "use strict";

  if (window.parent === window) {
    return; // opened on its own, not in a frame
  }

  var lastHeight = 0;
  var scheduled = false;

  function documentHeight() {
    // The <html> box, not scrollHeight: scrollHeight never goes below the iframe's own height, so the frame
    // could grow but never shrink back after a long step.
    return Math.ceil(document.documentElement.getBoundingClientRect().height);
  }

  function postHeight() {
    scheduled = false;
    var height = documentHeight();
    if (height > 0 && height !== lastHeight) {
      lastHeight = height;
      window.parent.postMessage({ type: "clinic-booking:resize", height: height }, "*");
    }
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      // A timer, not requestAnimationFrame: browsers pause animation frames in a frame scrolled out of view.
      window.setTimeout(postHeight, 0);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", schedule);
  } else {
    schedule();
  }
  window.addEventListener("load", schedule);
  document.addEventListener("htmx:afterSettle", function (event) {
    schedule();
    // A new step swapped in (not a small part of one): the parent brings the box's top back into view, as a
    // page load would. The frame has no scrollbar of its own, so scrolling "window:top" here does nothing.
    if (event.target && event.target.id === "booking-flow") {
      window.parent.postMessage({ type: "clinic-booking:step" }, "*");
    }
  });
  if ("ResizeObserver" in window) {
    new ResizeObserver(schedule).observe(document.documentElement);
  } else {
    window.addEventListener("resize", schedule);
  }
})();
