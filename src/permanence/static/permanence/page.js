// Small behaviours of every page, written here rather than in inline event handlers (onchange="…"),
// which the Content Security Policy refuses (settings.CONTENT_SECURITY_POLICY):
// - a field marked data-autosubmit sends its form as soon as it changes (filters, a choice of type);
// - a field marked data-select-on-click selects its whole text when clicked (an address to copy).
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field instanceof Element && field.matches("[data-autosubmit]") && field.form) { field.form.submit(); }
});
document.addEventListener("click", function (event) {
  var field = event.target;
  if (field instanceof Element && field.matches("input[data-select-on-click]")) { field.select(); }
});
