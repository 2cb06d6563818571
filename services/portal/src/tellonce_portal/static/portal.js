/* Progressive enhancement only: every page works without this file. */
(function () {
  "use strict";
  // GOV.UK: move focus to the error summary so screen readers announce it.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }

  // Conditional questions on the same page: hide them until their answer applies.
  function currentValue(name) {
    var inputs = document.querySelectorAll('[name="' + name.replace(/"/g, '\\"') + '"]');
    for (var i = 0; i < inputs.length; i++) {
      var el = inputs[i];
      if ((el.type === "radio" || el.type === "checkbox")) { if (el.checked) { return el.value; } }
      else { return el.value; }
    }
    return "";
  }
  // data-show-values is a JSON array of the values that show the question (a value may hold
  // any character, "|" included), compared as the inputs' values: true as "true".
  function shownFor(el) {
    var values;
    try { values = JSON.parse(el.getAttribute("data-show-values")); } catch (e) { return []; }
    if (!Array.isArray(values)) { return []; }
    return values.map(function (v) { return v === true ? "true" : v === false ? "false" : String(v); });
  }
  var dependents = document.querySelectorAll("[data-show-if]");
  function update() {
    for (var i = 0; i < dependents.length; i++) {
      var el = dependents[i];
      var wanted = shownFor(el);
      var value = currentValue(el.getAttribute("data-show-if"));
      var listed = wanted.indexOf(value) !== -1;
      // data-show-unless: shown for any answer but the listed ones ("every other country").
      el.hidden = el.hasAttribute("data-show-unless") ? (listed || value === "") : !listed;
    }
  }
  // "Another country" typed as a listed one ("united states"): choose that one instead, so
  // its own questions show (the server maps it the same way). Folded as forms/countries.py.
  function folded(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").replace(/\s+/g, "").toLowerCase();
  }
  function chooseListed(box) {
    if (!box.hasAttribute || !box.hasAttribute("data-choice-aliases")) { return; }
    var aliases;
    try { aliases = JSON.parse(box.getAttribute("data-choice-aliases")); } catch (e) { return; }
    var key = folded(box.value);
    if (!Object.prototype.hasOwnProperty.call(aliases, key)) { return; }
    var name = box.getAttribute("data-choice-of").replace(/"/g, '\\"');
    var inputs = document.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < inputs.length; i++) {
      var el = inputs[i];
      if (el.type === "radio") { el.checked = el.value === aliases[key]; }
      else { el.value = aliases[key]; }
    }
  }
  if (dependents.length) {
    document.addEventListener("change", function (event) {
      chooseListed(event.target);
      update();
    });
    update();
  }

  // A second click on "Accept and send" is ignored (the server is idempotent anyway).
  var once = document.querySelectorAll("form[data-submit-once]");
  for (var j = 0; j < once.length; j++) {
    once[j].addEventListener("submit", function (event) {
      if (this.getAttribute("data-sent")) { event.preventDefault(); return; }
      this.setAttribute("data-sent", "1");
    });
  }
})();
