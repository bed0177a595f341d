// The colour scheme chosen on this browser ("light", "dark", or the
// system's), applied before the page paints. Not a secret: localStorage.
(function () {
  const choice = localStorage.getItem('sendense.theme');
  if (choice === 'light' || choice === 'dark') {
    document.documentElement.dataset.theme = choice;
  }
})();
