// A small SVG writer for the plots of `latentkit plots`: documents, axes with "nice" ticks, tick and axis labels,
// a legend; and the three kinds of plot the tool draws (scatter by label, histograms as small multiples, curves).
// Plain SVG 1.1 with inline attributes (no CSS, no ids), so a document can be inlined into an HTML page as is.

import Foundation

public enum SVG {
    /// Escapes text for XML character data and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A coordinate with two decimals (a hundredth of a pixel is below what any viewer renders).
    static func number(_ v: Double) -> String {
        let rounded = (v * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.2f", rounded)
    }

    /// Ten distinguishable colours (matplotlib's tab10), one per class label.
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
}

/// A rectangle in pixels (y down).
public struct PlotBox: Equatable, Sendable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// A data interval widened to whole "nice" tick steps (1, 2 or 5 × 10^n), with its ticks.
public struct Axis: Equatable, Sendable {
    public let lower: Double
    public let upper: Double
    public let step: Double
    public var ticks: [Double] {
        let n = Int(((upper - lower) / step).rounded())
        return (0...n).map { lower + Double($0) * step }
    }

    /// An axis covering `[minimum, maximum]` with about `tickCount` ticks. An empty or degenerate interval is
    /// widened by one unit each side; non-finite values are the caller's to filter out.
    public init(minimum: Double, maximum: Double, tickCount: Int = 5) {
        var lo = minimum, hi = maximum
        if !(lo.isFinite && hi.isFinite) || hi < lo { lo = 0; hi = 1 }
        if hi - lo < 1e-12 * max(1, abs(lo)) { lo -= 1; hi += 1 }
        let rough = (hi - lo) / Double(max(tickCount, 1))
        let magnitude = pow(10, (log10(rough)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        self.step = step
        lower = (lo / step).rounded(.down) * step
        upper = (hi / step).rounded(.up) * step
    }

    /// The fraction of the way from `lower` to `upper` at which `v` lies.
    public func fraction(_ v: Double) -> Double { (v - lower) / (upper - lower) }

    /// A tick's label with as many decimals as the step needs.
    public func label(_ v: Double) -> String {
        let decimals = max(0, -Int(log10(step).rounded(.down)))
        let text = String(format: "%.\(decimals)f", abs(v) < step / 1e6 ? 0 : v)
        return text
    }
}

/// One set of axes: a plot box and the map from data to pixels.
public struct Panel: Sendable {
    public let box: PlotBox
    public let x: Axis
    public let y: Axis

    public init(box: PlotBox, x: Axis, y: Axis) {
        self.box = box
        self.x = x
        self.y = y
    }

    /// The pixel position of the data point (`u`, `v`): x grows to the right, y upwards.
    public func point(_ u: Double, _ v: Double) -> (x: Double, y: Double) {
        (box.x + x.fraction(u) * box.width, box.y + (1 - y.fraction(v)) * box.height)
    }

    /// The frame, ticks, tick labels, title and axis labels, as SVG elements.
    func frame(title: String, xLabel: String, yLabel: String, fontSize: Double = 12) -> [String] {
        let n = SVG.number, b = box
        var e = ["<rect class=\"plot-box\" x=\"\(n(b.x))\" y=\"\(n(b.y))\" width=\"\(n(b.width))\" height=\"\(n(b.height))\" fill=\"none\" stroke=\"#333\"/>"]
        let small = fontSize * 0.85
        for t in x.ticks {
            let px = point(t, y.lower).x
            e.append("<line x1=\"\(n(px))\" y1=\"\(n(b.y + b.height))\" x2=\"\(n(px))\" y2=\"\(n(b.y + b.height + 4))\" stroke=\"#333\"/>")
            e.append("<text x=\"\(n(px))\" y=\"\(n(b.y + b.height + 4 + small))\" font-size=\"\(n(small))\" text-anchor=\"middle\">\(SVG.escape(x.label(t)))</text>")
        }
        for t in y.ticks {
            let py = point(x.lower, t).y
            e.append("<line x1=\"\(n(b.x - 4))\" y1=\"\(n(py))\" x2=\"\(n(b.x))\" y2=\"\(n(py))\" stroke=\"#333\"/>")
            e.append("<text x=\"\(n(b.x - 6))\" y=\"\(n(py + small / 3))\" font-size=\"\(n(small))\" text-anchor=\"end\">\(SVG.escape(y.label(t)))</text>")
        }
        if !title.isEmpty {
            e.append("<text x=\"\(n(b.x + b.width / 2))\" y=\"\(n(b.y - 6))\" font-size=\"\(n(fontSize))\" font-weight=\"bold\" text-anchor=\"middle\">\(SVG.escape(title))</text>")
        }
        if !xLabel.isEmpty {
            e.append("<text x=\"\(n(b.x + b.width / 2))\" y=\"\(n(b.y + b.height + 8 + 2 * small))\" font-size=\"\(n(small))\" text-anchor=\"middle\">\(SVG.escape(xLabel))</text>")
        }
        if !yLabel.isEmpty {
            let cx = b.x - 10 - 3.2 * small, cy = b.y + b.height / 2
            e.append("<text x=\"\(n(cx))\" y=\"\(n(cy))\" font-size=\"\(n(small))\" text-anchor=\"middle\" transform=\"rotate(-90 \(n(cx)) \(n(cy)))\">\(SVG.escape(yLabel))</text>")
        }
        return e
    }
}

/// An SVG document under construction.
public struct SVGDocument: Sendable {
    public let width: Double
    public let height: Double
    public private(set) var elements: [String] = []

    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    public mutating func add(_ element: String) { elements.append(element) }
    public mutating func add(_ more: [String]) { elements += more }

    /// The document without an XML declaration, so that it can also be inlined into HTML.
    public var text: String {
        let n = SVG.number
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\" viewBox=\"0 0 \(n(width)) \(n(height))\" "
            + "font-family=\"Helvetica, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
            + elements.joined(separator: "\n") + "\n</svg>\n"
    }

    public func write(to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// A legend of coloured squares and names, top-left corner at (`x`, `y`).
    mutating func legend(_ entries: [(name: String, colour: String)], x: Double, y: Double, fontSize: Double = 11) {
        let n = SVG.number
        for (i, entry) in entries.enumerated() {
            let top = y + Double(i) * (fontSize + 6)
            add("<rect class=\"legend-key\" x=\"\(n(x))\" y=\"\(n(top))\" width=\"\(n(fontSize))\" height=\"\(n(fontSize))\" fill=\"\(entry.colour)\"/>")
            add("<text x=\"\(n(x + fontSize + 5))\" y=\"\(n(top + fontSize - 1))\" font-size=\"\(n(fontSize))\">\(SVG.escape(entry.name))</text>")
        }
    }
}

/// The plots of `latentkit plots`.
public enum Plots {
    /// Points coloured by their integer label (one of ten colours), with a legend of the labels present.
    public static func scatter(x: [Double], y: [Double], labels: [Int], title: String, xLabel: String, yLabel: String,
                               side: Double = 560) throws -> (document: SVGDocument, panel: Panel) {
        try require(x.count == y.count && x.count == labels.count && !x.isEmpty, "scatter: \(x.count) x, \(y.count) y, \(labels.count) labels")
        let finite = x.indices.filter { x[$0].isFinite && y[$0].isFinite }
        let panel = Panel(box: PlotBox(x: 60, y: 30, width: side, height: side),
                          x: Axis(minimum: finite.map { x[$0] }.min() ?? 0, maximum: finite.map { x[$0] }.max() ?? 1),
                          y: Axis(minimum: finite.map { y[$0] }.min() ?? 0, maximum: finite.map { y[$0] }.max() ?? 1))
        var doc = SVGDocument(width: side + 150, height: side + 80)
        doc.add(panel.frame(title: title, xLabel: xLabel, yLabel: yLabel))
        let n = SVG.number
        // one group per label, so that a label's points share their fill attributes
        for label in Set(labels).sorted() {
            let colour = SVG.palette[((label % 10) + 10) % 10]
            doc.add("<g fill=\"\(colour)\" fill-opacity=\"0.7\">")
            for i in finite where labels[i] == label {
                let p = panel.point(x[i], y[i])
                doc.add("<circle cx=\"\(n(p.x))\" cy=\"\(n(p.y))\" r=\"1.6\"/>")
            }
            doc.add("</g>")
        }
        doc.legend(Set(labels).sorted().map { (String($0), SVG.palette[(($0 % 10) + 10) % 10]) }, x: panel.box.x + side + 20, y: panel.box.y)
        return (doc, panel)
    }

    /// One histogram per column of `values` (small multiples, `columns` per row), each over its own range, bars
    /// drawn as one path per histogram.
    public static func histograms(_ values: [[Double]], names: [String], bins: Int = 30, columns: Int = 5, title: String) throws -> SVGDocument {
        try require(!values.isEmpty && values.count == names.count && bins >= 1, "histograms: \(values.count) units, \(names.count) names")
        let cellWidth = 190.0, cellHeight = 150.0, top = 40.0
        let rows = (values.count + columns - 1) / columns
        var doc = SVGDocument(width: Double(min(columns, values.count)) * cellWidth + 20, height: top + Double(rows) * cellHeight + 10)
        doc.add("<text x=\"\(SVG.number(doc.width / 2))\" y=\"20\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\">\(SVG.escape(title))</text>")
        for (u, unit) in values.enumerated() {
            let finite = unit.filter(\.isFinite)
            let lo = finite.min() ?? 0, hi = finite.max() ?? 1
            let width = hi > lo ? (hi - lo) / Double(bins) : 1
            var counts = [Int](repeating: 0, count: bins)
            for v in finite { counts[min(bins - 1, max(0, Int((v - lo) / width)))] += 1 }
            let box = PlotBox(x: Double(u % columns) * cellWidth + 55, y: top + Double(u / columns) * cellHeight + 20,
                              width: cellWidth - 70, height: cellHeight - 60)
            let panel = Panel(box: box, x: Axis(minimum: lo, maximum: hi > lo ? hi : lo + width, tickCount: 3),
                              y: Axis(minimum: 0, maximum: Double(counts.max() ?? 1), tickCount: 3))
            doc.add(panel.frame(title: names[u], xLabel: "", yLabel: "", fontSize: 11))
            var path = ""
            for (b, c) in counts.enumerated() where c > 0 {
                let p0 = panel.point(lo + Double(b) * width, Double(c)), p1 = panel.point(lo + Double(b + 1) * width, 0)
                path += "M\(SVG.number(p0.x)) \(SVG.number(p1.y))V\(SVG.number(p0.y))H\(SVG.number(p1.x))V\(SVG.number(p1.y))Z"
            }
            if !path.isEmpty { doc.add("<path class=\"bars\" d=\"\(path)\" fill=\"#4c72b0\" stroke=\"#2a4a80\" stroke-width=\"0.5\"/>") }
        }
        return doc
    }

    /// A named series of points joined by a line.
    public struct Series {
        public var name: String
        public var x: [Double]
        public var y: [Double]
        public init(name: String, x: [Double], y: [Double]) {
            self.name = name
            self.x = x
            self.y = y
        }
    }

    /// Panels side by side, each with its title, y label and series (a line with a dot per point) and a legend.
    public static func curves(_ panels: [(title: String, yLabel: String, series: [Series])], xLabel: String) throws -> SVGDocument {
        try require(!panels.isEmpty, "curves: no panels")
        let cellWidth = 430.0, height = 360.0
        var doc = SVGDocument(width: Double(panels.count) * cellWidth, height: height)
        for (i, spec) in panels.enumerated() {
            let xs = spec.series.flatMap(\.x).filter(\.isFinite), ys = spec.series.flatMap(\.y).filter(\.isFinite)
            let panel = Panel(box: PlotBox(x: Double(i) * cellWidth + 75, y: 30, width: cellWidth - 100, height: 240),
                              x: Axis(minimum: xs.min() ?? 0, maximum: xs.max() ?? 1), y: Axis(minimum: ys.min() ?? 0, maximum: ys.max() ?? 1))
            doc.add(panel.frame(title: spec.title, xLabel: xLabel, yLabel: spec.yLabel))
            for (s, series) in spec.series.enumerated() {
                let colour = SVG.palette[s % 10]
                let points = zip(series.x, series.y).filter { $0.0.isFinite && $0.1.isFinite }.map { panel.point($0.0, $0.1) }
                guard !points.isEmpty else { continue }
                let d = points.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(SVG.number($0.element.x)) \(SVG.number($0.element.y))" }.joined()
                doc.add("<path class=\"curve\" d=\"\(d)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>")
                for p in points { doc.add("<circle cx=\"\(SVG.number(p.x))\" cy=\"\(SVG.number(p.y))\" r=\"2.5\" fill=\"\(colour)\"/>") }
            }
            // below the axis label, outside the box: a curve can pass through any corner of it
            doc.legend(spec.series.enumerated().map { ($0.element.name, SVG.palette[$0.offset % 10]) },
                       x: panel.box.x, y: panel.box.y + panel.box.height + 42)
        }
        return doc
    }
}
