// Package uplot embeds uPlot (https://github.com/leeoniya/uPlot, MIT; see
// LICENSE), the chart library of the bench report and the published site,
// so that both work offline: no CDN, one copy in the binary.
//
// The files are dist/uPlot.iife.min.js and dist/uPlot.min.css of uPlot
// 1.6.32 (commit dd3ffc568903c905ae5ba8d310e37216fd597404), unmodified.
package uplot

import _ "embed"

// JS is uPlot's minified browser build; it defines the global uPlot.
//
//go:embed uPlot.iife.min.js
var JS string

// CSS is uPlot's stylesheet.
//
//go:embed uPlot.min.css
var CSS string

// License is uPlot's MIT licence, to be shipped beside any copy served.
//
//go:embed LICENSE
var License string
