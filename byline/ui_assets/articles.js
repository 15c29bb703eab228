// js_on_load of the articles table (gr.HTML): a delete button asks, then sends the article id.
element.addEventListener("click", function (event) {
  const button = event.target.closest(".byline-delete[data-article-id]");
  if (!button || !element.contains(button)) return;
  event.preventDefault();
  const title = button.getAttribute("data-title") || button.getAttribute("data-article-id");
  if (!window.confirm("Remove \u201c" + title + "\u201d from the index?")) return;
  button.disabled = true;
  trigger("delete_article", { id: button.getAttribute("data-article-id") });
});
