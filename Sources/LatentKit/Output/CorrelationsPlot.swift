// Paper 003's "correlations plot": pairwise scatters of the latent means (μ_i, μ_j) over the test set, for the most and
// the least active units. An active unit spreads its points along its axis; an inactive one (its mean the same for
// every input: the posterior collapsed onto the prior there) draws its pairs as a constant line.

import Foundation

extension Plots {
    /// The `most` most active and `least` least active of the units (columns) of `codes`, by Burda et al.'s activity
    /// Cov_x(E_q[u|x]): the units drawn, most active first, with their activities.
    public static func unitsForCorrelations(_ codes: [Float], dimensions nz: Int, most: Int = 3, least: Int = 3) -> [(unit: Int, activity: Double)] {
        let n = codes.count / max(nz, 1)
        let activity = (0..<nz).map { u -> Double in
            let column = stride(from: u, to: n * nz, by: nz).map { Double(codes[$0]) }
            let mean = column.reduce(0, +) / Double(max(n, 1))
            return column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(n - 1, 1))
        }
        let ranked = (0..<nz).sorted { activity[$0] > activity[$1] || (activity[$0] == activity[$1] && $0 < $1) }
        let chosen = ranked.count <= most + least ? ranked : Array(ranked.prefix(most) + ranked.suffix(least))
        return chosen.map { ($0, activity[$0]) }
    }

    /// The lower triangle of a scatter matrix of the `units` of `codes` (`points` rows of `nz`, the first `maxPoints`
    /// drawn): panel (i, j), i > j, has unit j across and unit i up; the diagonal names each unit and its activity.
    public static func correlations(_ codes: [Float], dimensions nz: Int, units: [(unit: Int, activity: Double)], title: String,
                                    maxPoints: Int = 2000) throws -> SVGDocument {
        try require(nz >= 1 && codes.count % nz == 0 && !codes.isEmpty && units.count >= 2, "correlations: \(codes.count) values, \(nz) dimensions, \(units.count) units")
        let n = min(codes.count / nz, maxPoints), cell = 130.0, left = 50.0, top = 40.0
        var doc = SVGDocument(width: left + Double(units.count) * cell + 20, height: top + Double(units.count) * cell + 20)
        doc.add("<text x=\"\(SVG.number(doc.width / 2))\" y=\"20\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\">\(SVG.escape(title))</text>")
        let columns = units.map { u in (0..<n).map { Double(codes[$0 * nz + u.unit]) } }
        let axes = columns.map { c in Axis(minimum: c.filter(\.isFinite).min() ?? 0, maximum: c.filter(\.isFinite).max() ?? 1, tickCount: 2) }
        let num = SVG.number
        for i in units.indices {
            for j in 0...i {
                let box = PlotBox(x: left + Double(j) * cell + 10, y: top + Double(i) * cell + 10, width: cell - 30, height: cell - 30)
                if i == j {
                    doc.add("<text class=\"unit-name\" x=\"\(num(box.x + box.width / 2))\" y=\"\(num(box.y + box.height / 2))\" font-size=\"12\" "
                            + "text-anchor=\"middle\">unit \(units[i].unit + 1)</text>")
                    doc.add("<text x=\"\(num(box.x + box.width / 2))\" y=\"\(num(box.y + box.height / 2 + 16))\" font-size=\"10\" "
                            + "text-anchor=\"middle\">activity \(SVG.escape(String(format: "%.3g", units[i].activity)))</text>")
                    continue
                }
                let panel = Panel(box: box, x: axes[j], y: axes[i])
                doc.add(panel.frame(title: "", xLabel: "", yLabel: "", fontSize: 9))
                doc.add("<g class=\"pair\" data-x=\"\(units[j].unit + 1)\" data-y=\"\(units[i].unit + 1)\" fill=\"#4c72b0\" fill-opacity=\"0.4\">")
                for p in 0..<n where columns[j][p].isFinite && columns[i][p].isFinite {
                    let point = panel.point(columns[j][p], columns[i][p])
                    doc.add("<circle cx=\"\(num(point.x))\" cy=\"\(num(point.y))\" r=\"1\"/>")
                }
                doc.add("</g>")
            }
        }
        return doc
    }
}
