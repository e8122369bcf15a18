// Small conveniences; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // Filters apply as soon as one changes.
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    for (const select of form.querySelectorAll("select")) {
      select.addEventListener("change", () => form.submit());
    }
  }
  for (const button of document.querySelectorAll("[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
  // A chart's bar shows its day and exact quantity on hover (pygal writes them as <desc>).
  for (const bar of document.querySelectorAll(".usage-chart g.bar")) {
    const label = bar.querySelector("desc.label");
    const value = bar.querySelector("desc.value");
    if (!label || !value) continue;
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${label.textContent}: ${value.textContent}`;
    bar.prepend(title);
  }
});
