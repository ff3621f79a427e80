package views

// previewImage is the Datastar expression of an image field (el = the input) that shows the
// typed URL in the field's preview when it is an https URL, and hides the preview otherwise. The
// URL is read from the input, never written into an attribute of the page.
const previewImage = `((v, img) => { const ok = v.toLowerCase().startsWith('https://') && v.length > 8 && !/[\s"'<>\\]/.test(v); ` +
	`img.hidden = !ok; if (ok) { img.setAttribute('src', v) } else { img.removeAttribute('src') } })` +
	`(el.value.trim(), el.parentElement.querySelector('[data-image-preview]'))`
