// Tailwind CSS v3 configuration (version pinned in package.json / package-lock.json).
// `make generate` compiles static/src/app.css into static/dist/app.css, which the Go binary embeds.
/** @type {import('tailwindcss').Config} */
module.exports = {
  // Classes are found by scanning the templ sources and the Go they compile to.
  content: ["./views/**/*.templ", "./views/**/*.go"],
  // Follow the operating system's light/dark preference (prefers-color-scheme).
  darkMode: 'media',
  theme: {
    extend: {},
  },
  plugins: [],
};
