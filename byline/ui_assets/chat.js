// js_on_load of the conversation (gr.HTML): `element` is the component's root, kept across updates.
// A click on a citation chip brings its source card into view and highlights it.
element.addEventListener("click", function (event) {
  const chip = event.target.closest(".byline-chip[data-target]");
  if (!chip || !element.contains(chip)) return;
  event.preventDefault();
  const card = element.querySelector("#" + CSS.escape(chip.getAttribute("data-target")));
  if (!card) return;
  element.querySelectorAll(".byline-source-active").forEach(function (node) {
    node.classList.remove("byline-source-active");
  });
  // Restart the flash animation when the same chip is clicked twice.
  void card.offsetWidth;
  card.classList.add("byline-source-active");
  card.scrollIntoView({ behavior: "smooth", block: "center" });
  card.focus({ preventScroll: true });
});
