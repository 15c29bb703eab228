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

// Copy, retry and thumbs under each finished answer.
element.addEventListener("click", function (event) {
  const button = event.target.closest(".byline-act");
  if (!button || !element.contains(button)) return;
  event.preventDefault();
  if (button.classList.contains("byline-copy")) {
    const ex = button.closest(".byline-exchange");
    const text = ex ? (ex.querySelector(".byline-answer-text") || ex).innerText : "";
    const done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } catch (e) {}
      area.remove();
    }
  } else if (button.classList.contains("byline-retry")) {
    const box = document.querySelector("#byline-question textarea");
    const ask = document.querySelector("#byline-ask");
    if (!box || !ask) return;
    box.value = button.getAttribute("data-question") || "";
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(function () { ask.click(); }, 50);
  } else if (button.classList.contains("byline-thumb")) {
    button.setAttribute("aria-pressed", "true");
    trigger("feedback", { index: Number(button.getAttribute("data-index")), verdict: button.getAttribute("data-verdict") });
  }
});

// Follow the conversation: when a new question appears, bring it (and the start of its answer)
// to the top of the panel. Tokens and finished answers do not scroll, so a reader who scrolled
// up is not pulled down while an answer streams.
(function () {
  let seen = element.querySelectorAll(".byline-exchange").length;
  new MutationObserver(function () {
    const all = element.querySelectorAll(".byline-exchange");
    if (all.length > seen) {
      const newest = all[all.length - 1];
      let panel = newest.parentElement;
      while (panel && panel !== document.body && !/(auto|scroll)/.test(getComputedStyle(panel).overflowY)) panel = panel.parentElement;
      if (panel && panel !== document.body) {
        panel.scrollTop += newest.getBoundingClientRect().top - panel.getBoundingClientRect().top - 8;
      }
      if (newest.getBoundingClientRect().top < 0 || newest.getBoundingClientRect().top > window.innerHeight - 80) {
        newest.scrollIntoView({ block: "start" });
      }
    }
    seen = all.length;
  }).observe(element, { childList: true, subtree: true });
})();
