// A password-set link carries its code after '#', which browsers never send to a server:
// take it out of the address (and of the history), and send it in the body of the page's
// POST. Without JavaScript, the page asks for the link to be pasted instead.
(() => {
  const code = window.location.hash.slice(1);
  const form = document.getElementById("password-set-link-form");
  if (!code || !form) {
    return;
  }
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  form.elements.code.value = decodeURIComponent(code);
  form.submit();
})();
