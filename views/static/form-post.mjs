// A page on its way elsewhere (a form_post response, a logout with nothing to end): posts its
// form at once. Without script, the person presses its Continue button.
document.getElementById('form-post')?.submit();
