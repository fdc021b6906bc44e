// A page on its way elsewhere (a form_post response, a logout with nothing to end): posts its
// form at once. Without script, the person presses its Continue button. A classic script in the
// plainest JavaScript, unlike the other pages' modules: a page that only passes the person on
// must go on in any browser that runs script at all — old embedded webviews, and scripted test
// browsers such as the OpenID conformance suite's, which run no module scripts.
(function () {
  var form = document.getElementById('form-post');
  if (form) form.submit();
})();
