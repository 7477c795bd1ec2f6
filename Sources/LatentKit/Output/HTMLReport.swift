// The self-contained HTML page of `latentkit report`: runs side by side (configuration, metrics, classification
// errors beside paper 000's Fig. 4, pictures). PNGs are embedded as data: URIs; our SVG plots are inlined when they
// contain only the elements and attributes the SVG writer produces, and otherwise embedded as an image (where a
// browser runs no script). Every piece of text from a run directory is escaped.

import Foundation

public enum HTML {
    /// Escapes text for HTML element content and quoted attribute values.
    public static func escape(_ text: String) -> String { SVG.escape(text) }

    public static func dataURI(_ bytes: [UInt8], type: String) -> String {
        "data:\(type);base64,\(Data(bytes).base64EncodedString())"
    }
}

/// The pictures `latentkit plots` writes, in the order the report shows them.
public let plotFiles = ["reconstructions.png", "samples.png", "interpolations.png", "lattice.png",
                        "scatter.svg", "histograms.svg", "learning_curves.svg"] + topicPlotFiles
/// The pictures `latentkit plots` adds for a bag-of-words run with a linear decoder.
public let topicPlotFiles = ["topics.svg", "topic_npmi.svg", "topic_labels.svg"]

/// What the report shows of one run, read from its directory.
public struct RunSummary {
    public var path: String
    /// config.json flattened to dotted keys ("model.latent"), values as JSON text.
    public var config: [String: String] = [:]
    /// The last line of metrics.jsonl.
    public var finalEpoch: [String: Any]?
    /// eval.json (`latentkit eval --json`).
    public var evaluation: [String: Any]?
    /// analysis.json (`latentkit analyze`).
    public var analysis: [String: Any]?
    /// File name → content, for the files of `plotFiles` found in the plots folder.
    public var pictures: [String: [UInt8]] = [:]
    public var notes: [String] = []

    public init(path: String) { self.path = path }

    /// Reads config.json, metrics.jsonl, eval.json, analysis.json and the pictures in `plots` (default
    /// RUN_DIR/plots) of the run at `path`; what is missing is left nil or empty (config.json must exist).
    public static func load(_ path: String, plots: String? = nil) throws -> RunSummary {
        let run = RunDirectory(path)
        var summary = RunSummary(path: path)
        guard let configData = FileManager.default.contents(atPath: run.config),
              let config = try? JSONSerialization.jsonObject(with: configData) as? [String: Any] else {
            throw DataError("\(path) is not a LatentKit run directory: \(run.config) is missing or not JSON")
        }
        summary.config = flatten(config)
        summary.finalEpoch = try run.readMetrics().last
        summary.evaluation = readJSON("\(path)/eval.json")
        summary.analysis = readJSON("\(path)/analysis.json")
        let folder = plots ?? "\(path)/plots"
        for name in plotFiles {
            if let data = FileManager.default.contents(atPath: "\(folder)/\(name)") { summary.pictures[name] = [UInt8](data) }
        }
        return summary
    }

    static func readJSON(_ path: String) -> [String: Any]? {
        FileManager.default.contents(atPath: path).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }

    static func flatten(_ object: [String: Any], prefix: String = "") -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in object {
            let name = prefix.isEmpty ? key : "\(prefix).\(key)"
            if let nested = value as? [String: Any] {
                out.merge(flatten(nested, prefix: name)) { $1 }
            } else if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                out[name] = String(decoding: data, as: UTF8.self)
            }
        }
        return out
    }
}

public enum HTMLReport {
    /// Paper 000's Fig. 4, Dirichlet VAE (Laplace): KNN (k = 2, 5, 10), logistic regression and LDA test errors in %.
    public static let paperDirichletErrors: [Double] = [9, 7, 7, 12, 14]

    public static func page(_ runs: [RunSummary], title: String = "LatentKit report") -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(HTML.escape(title))</title>
            <style>
            body { font-family: Helvetica, Arial, sans-serif; margin: 20px; color: #222; }
            table { border-collapse: collapse; margin: 8px 0 20px; }
            th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; font-size: 13px; }
            td.num { text-align: right; font-variant-numeric: tabular-nums; }
            tr.differs td { background: #fff6d6; }
            tr.paper td { background: #eef3fb; font-style: italic; }
            .pictures { display: grid; grid-template-columns: repeat(\(max(runs.count, 1)), minmax(0, 1fr)); gap: 16px; }
            .pictures > div { min-width: 0; }
            .pictures img.png { image-rendering: pixelated; width: 100%; }
            .pictures svg, .pictures img.svg { max-width: 100%; height: auto; }
            h3 { margin: 18px 0 6px; }
            .note { color: #8a5a00; font-size: 13px; }
            code { font-size: 12px; }
            </style></head><body>
            <h1>\(HTML.escape(title))</h1>

            """
        h += "<p>" + runs.enumerated().map { "<b>run \($0.offset + 1)</b>: <code>\(HTML.escape($0.element.path))</code>" }.joined(separator: " · ") + "</p>\n"
        h += metricsTable(runs) + classificationTable(runs) + configTable(runs) + pictures(runs)
        for run in runs where !run.notes.isEmpty {
            h += "<p class=\"note\">\(HTML.escape(run.path)): " + run.notes.map(HTML.escape).joined(separator: "; ") + "</p>\n"
        }
        return h + "</body></html>\n"
    }

    static func header(_ runs: [RunSummary], first: String) -> String {
        "<tr><th>\(HTML.escape(first))</th>" + runs.enumerated().map { "<th>run \($0.offset + 1)<br>\(HTML.escape(shortName($0.element)))</th>" }.joined() + "</tr>\n"
    }

    /// The run directory's last path component.
    static func shortName(_ run: RunSummary) -> String {
        URL(fileURLWithPath: run.path).lastPathComponent
    }

    static func cell(_ value: Any?, format: String = "%.2f") -> String {
        switch value {
        case let v as Int: return "<td class=\"num\">\(v)</td>"
        case let v as Double: return "<td class=\"num\">\(String(format: format, v))</td>"
        case let v as String: return "<td>\(HTML.escape(v))</td>"
        default: return "<td>—</td>"
        }
    }

    static func metricsTable(_ runs: [RunSummary]) -> String {
        var h = "<h2>Metrics</h2>\n<table>\n" + header(runs, first: "metric")
        let rows: [(String, (RunSummary) -> Any?)] = [
            ("latent", { $0.config["model.latent"].map(unquote) }),
            ("latent size", { $0.config["model.latentSize"].map(unquote) }),
            ("epochs trained", { $0.finalEpoch?["epoch"] }),
            ("train −ELBO, final epoch (nats)", { $0.finalEpoch?["loss"] }),
            ("train reconstruction", { $0.finalEpoch?["reconstruction"] }),
            ("train KL", { $0.finalEpoch?["kl"] }),
            ("test −ELBO (nats)", { $0.evaluation?["test_neg_elbo"] }),
            ("test reconstruction", { $0.evaluation?["test_recon"] }),
            ("test KL", { $0.evaluation?["test_kl"] }),
            ("test NLL (importance sampled)", { $0.evaluation?["test_nll"] }),
            ("test images", { $0.evaluation?["images"] }),
            ("active units", { run in run.evaluation?["active_units"] }),
        ]
        for (name, value) in rows {
            h += "<tr><td>\(HTML.escape(name))</td>" + runs.map { cell(number(value($0))) }.joined() + "</tr>\n"
        }
        return h + "</table>\n"
    }

    /// JSON numbers come back as NSNumber, ints and doubles alike: integral values print as integers.
    static func number(_ value: Any?) -> Any? {
        if value is NSNull { return nil }
        if let s = value as? String { return s }
        guard let n = value as? NSNumber else { return value }
        let d = n.doubleValue
        return d == d.rounded() && abs(d) < 1e15 ? Int(d) : d
    }

    static func unquote(_ json: String) -> String {
        json.count >= 2 && json.hasPrefix("\"") && json.hasSuffix("\"") ? String(json.dropFirst().dropLast()) : json
    }

    static func classificationTable(_ runs: [RunSummary]) -> String {
        var h = "<h2>Classification error on the latent codes (test set, %)</h2>\n<table>\n"
        h += "<tr><th>run</th><th>latent</th><th>code</th><th>distance</th><th>KNN k=2</th><th>KNN k=5</th><th>KNN k=10</th><th>logistic regression</th><th>LDA</th><th>active units</th></tr>\n"
        for (i, run) in runs.enumerated() {
            let latent = run.config["model.latent"].map(unquote) ?? "—"
            guard let analysis = run.analysis, let classification = analysis["classification"] as? [String: Any] else {
                h += "<tr><td>run \(i + 1) \(HTML.escape(shortName(run)))</td><td>\(HTML.escape(latent))</td><td colspan=\"8\">— (no analysis.json: run "
                    + "<code>latentkit analyze \(HTML.escape(run.path))</code>)</td></tr>\n"
                continue
            }
            let knn = classification["knn"] as? [String: Any] ?? [:]
            let errors: [Any?] = [knn["2"], knn["5"], knn["10"], classification["logistic_regression"], classification["lda"]]
            let active = (analysis["active_units"] as? [String: Any])?["count"]
            h += "<tr><td>run \(i + 1) \(HTML.escape(shortName(run)))</td><td>\(HTML.escape(latent))</td>" + cell(analysis["code"] as? String) + cell(classification["distance"] as? String)
                + errors.map { e in cell((number(e) as? Double ?? (number(e) as? Int).map(Double.init)).map { $0 * 100 }, format: "%.1f") }.joined()
                + cell(number(active)) + "</tr>\n"
        }
        h += "<tr class=\"paper\"><td>paper 000, Fig. 4</td><td>dirichlet (Laplace)</td><td>—</td><td>Hellinger</td>"
            + paperDirichletErrors.map { cell($0, format: "%.0f") }.joined() + "<td>—</td></tr>\n"
        return h + "</table>\n"
    }

    static func configTable(_ runs: [RunSummary]) -> String {
        let keys = Set(runs.flatMap(\.config.keys)).sorted()
        func differs(_ key: String) -> Bool { Set(runs.map { $0.config[key] ?? "" }).count > 1 }
        func rows(_ keys: [String]) -> String {
            keys.map { key in
                "<tr\(differs(key) ? " class=\"differs\"" : "")><td>\(HTML.escape(key))</td>"
                    + runs.map { "<td>\(HTML.escape($0.config[key] ?? "—"))</td>" }.joined() + "</tr>\n"
            }.joined()
        }
        var h = "<h2>Configuration</h2>\n"
        let different = keys.filter(differs)
        if runs.count > 1 {
            h += different.isEmpty ? "<p>The runs have the same configuration.</p>\n"
                : "<p>Settings that differ:</p>\n<table>\n" + header(runs, first: "config.json") + rows(different) + "</table>\n"
        }
        // the whole configuration folded when there are differences to look at first
        h += "<details\(runs.count > 1 ? "" : " open")><summary>every setting (config.json)</summary>\n<table>\n"
            + header(runs, first: "config.json") + rows(keys) + "</table>\n</details>\n"
        return h
    }

    static func pictures(_ runs: [RunSummary]) -> String {
        var h = "<h2>Pictures</h2>\n"
        for name in plotFiles where runs.contains(where: { $0.pictures[name] != nil }) {
            h += "<h3>\(HTML.escape(name))</h3>\n<div class=\"pictures\">\n"
            for (i, run) in runs.enumerated() {
                h += "<div><b>run \(i + 1)</b> \(HTML.escape(shortName(run)))<br>\n"
                if let bytes = run.pictures[name] {
                    if name.hasSuffix(".png") {
                        h += "<img class=\"png\" alt=\"\(HTML.escape(name))\" src=\"\(HTML.dataURI(bytes, type: "image/png"))\">\n"
                    } else if let svg = inlineSVG(bytes) {
                        h += svg
                    } else {
                        h += "<img class=\"svg\" alt=\"\(HTML.escape(name))\" src=\"\(HTML.dataURI(bytes, type: "image/svg+xml"))\">\n"
                    }
                } else {
                    h += "<span class=\"note\">— not made (\(name == "lattice.png" ? "the lattice needs a latent of size 2" : "run latentkit plots"))</span>\n"
                }
                h += "</div>\n"
            }
            h += "</div>\n"
        }
        if runs.contains(where: { $0.pictures.isEmpty }) {
            h += "<p class=\"note\">Runs without pictures: run <code>latentkit plots RUN_DIR</code> first.</p>\n"
        }
        return h
    }

    /// The SVG text when it parses and uses only what the SVG writer produces; nil otherwise.
    public static func inlineSVG(_ bytes: [UInt8]) -> String? {
        SVGAllowList.accepts(bytes) ? String(decoding: bytes, as: UTF8.self) : nil
    }
}

/// Accepts the elements and attributes of ``SVGDocument``'s output only (no script, no event handlers, no links), by a
/// strict scanner of the XML subset that writer produces: elements, double- or single-quoted attributes, text, and the
/// five named and the numeric character references. Comments, CDATA, processing instructions and declarations are
/// nothing the writer makes, and the HTML parser reads some of them differently from XML: they are refused rather than
/// reasoned about. (A scanner of our own instead of Foundation's XMLParser, which would pull libxml2 and ICU into the
/// self-contained device bundle.)
enum SVGAllowList {
    static let elements: Set<String> = ["svg", "g", "rect", "line", "text", "circle", "path"]
    static let attributes: Set<String> = [
        "xmlns", "width", "height", "viewBox", "font-family", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "d",
        "fill", "fill-opacity", "stroke", "stroke-width", "font-size", "font-weight", "text-anchor", "transform", "class"]

    static func accepts(_ bytes: [UInt8]) -> Bool {
        guard let text = String(validating: bytes, as: UTF8.self) else { return false }
        var scanner = Scanner(Array(text.unicodeScalars))
        return scanner.document()
    }

    struct Scanner {
        let s: [Unicode.Scalar]
        var i = 0
        init(_ s: [Unicode.Scalar]) { self.s = s }

        var atEnd: Bool { i >= s.count }
        func peek(_ offset: Int = 0) -> Unicode.Scalar? { i + offset < s.count ? s[i + offset] : nil }
        mutating func skipSpace() { while let c = peek(), c == " " || c == "\n" || c == "\t" || c == "\r" { i += 1 } }

        /// One root `svg` element, whitespace around it, nothing else.
        mutating func document() -> Bool {
            skipSpace()
            guard let root = startTag(), root.name == "svg" else { return false }
            if !root.selfClosing && !content(closing: "svg") { return false }
            skipSpace()
            return atEnd
        }

        /// Text and child elements up to `</closing>`.
        mutating func content(closing: String) -> Bool {
            while let c = peek() {
                if c == "<" {
                    if peek(1) == "/" {
                        i += 2
                        guard name() == closing else { return false }
                        skipSpace()
                        guard peek() == ">" else { return false }
                        i += 1
                        return true
                    }
                    guard let child = startTag() else { return false }
                    if !child.selfClosing && !content(closing: child.name) { return false }
                } else if c == "&" {
                    if !reference() { return false }
                } else if c == ">" {
                    return false
                } else {
                    i += 1
                }
            }
            return false  // unclosed
        }

        /// `<name attr="value" ...>` or `.../>`, with every name allowed; nil when it is anything else.
        mutating func startTag() -> (name: String, selfClosing: Bool)? {
            guard peek() == "<" else { return nil }
            i += 1
            guard let element = name(), SVGAllowList.elements.contains(element) else { return nil }
            while true {
                let spaced = peek().map { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" } ?? false
                skipSpace()
                if peek() == ">" { i += 1; return (element, false) }
                if peek() == "/" && peek(1) == ">" { i += 2; return (element, true) }
                guard spaced, let attribute = name(), SVGAllowList.attributes.contains(attribute) else { return nil }
                skipSpace()
                guard peek() == "=" else { return nil }
                i += 1
                skipSpace()
                guard let quote = peek(), quote == "\"" || quote == "'" else { return nil }
                i += 1
                var value = ""
                while let c = peek(), c != quote {
                    if c == "<" { return nil }
                    if c == "&" {
                        guard reference() else { return nil }
                        value.append("&")
                    } else {
                        value.unicodeScalars.append(c)
                        i += 1
                    }
                }
                guard peek() == quote else { return nil }
                i += 1
                let lower = value.lowercased()
                if lower.contains("url(") || lower.contains("javascript:") { return nil }
            }
        }

        /// An XML name of ASCII letters, digits, `-`, `_`, `:` and `.`, starting with a letter.
        mutating func name() -> String? {
            guard let first = peek(), first.isASCII, first.properties.isAlphabetic else { return nil }
            var n = ""
            while let c = peek(), c.isASCII, c.properties.isAlphabetic || ("0"..."9").contains(c) || "-_:.".unicodeScalars.contains(c) {
                n.unicodeScalars.append(c)
                i += 1
            }
            return n
        }

        /// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&#123;` or `&#x1F;`.
        mutating func reference() -> Bool {
            guard peek() == "&", let end = s[i...].firstIndex(of: ";"), end - i <= 10 else { return false }
            let body = String(String.UnicodeScalarView(s[(i + 1)..<end]))
            let valid = ["amp", "lt", "gt", "quot", "apos"].contains(body)
                || (body.hasPrefix("#x") && body.count > 2 && UInt32(body.dropFirst(2), radix: 16) != nil)
                || (body.hasPrefix("#") && !body.hasPrefix("#x") && body.count > 1 && UInt32(body.dropFirst()) != nil)
            i = end + 1
            return valid
        }
    }
}
