package views

// Token status on the tokens page (TokenRow.Status; data-token-status).
const (
	TokenActive  = "active"
	TokenExpired = "expired"
	TokenRevoked = "revoked"
	TokenBlocked = "blocked" // neither revoked nor expired, refused because of its owner
)

// Status is the token's state as the tokens page names it.
func (t TokenRow) Status() string {
	switch {
	case t.RevokedAt != nil:
		return TokenRevoked
	case t.Expired:
		return TokenExpired
	case t.OwnerBlocked:
		return TokenBlocked
	}
	return TokenActive
}

// copyToken is the copy button's Datastar expression (el = the button): it selects the new
// token, writes it to the clipboard when the browser allows it, and otherwise tries the legacy
// copy command, leaving the text selected with a note to copy it by hand when both fail.
const copyToken = `((i, box) => { i.focus(); i.select(); i.setSelectionRange(0, i.value.length); ` +
	`const show = (k) => box.querySelectorAll('[data-copied]').forEach(s => { s.hidden = s.dataset.copied !== k }); ` +
	`const legacy = () => { let ok = false; try { ok = document.execCommand('copy') } catch (e) {} show(ok ? 'ok' : 'select') }; ` +
	`if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(i.value).then(() => show('ok'), legacy) } else { legacy() } })` +
	`(document.getElementById('new-token'), el.closest('section'))`
