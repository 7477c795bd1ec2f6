// The HTML report (escaping, tables, embedding) and `latentkit plots` / `report` end to end with their errors.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct ReportTests {
    @Test func htmlEscapingCoversMarkupAndQuotes() {
        #expect(HTML.escape("<script>alert(\"x\" & 'y')</script>") == "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;")
        #expect(HTML.escape("plain é ✓") == "plain é ✓")
    }

    static let svg = try! Plots.curves([("KL", "nats", [Plots.Series(name: "KL", x: [1, 2], y: [3, 4])])], xLabel: "epoch").text

    /// A summary as `RunSummary.load` makes it, with a hostile value in its configuration.
    static func summary(analysis: [String: Any]?) -> RunSummary {
        var run = RunSummary(path: "/runs/<b>one</b>")
        run.config = ["model.latent": "\"dirichlet\"", "model.latentSize": "20", "dataDirectory": "\"<img src=x onerror=alert(1)>\""]
        run.finalEpoch = ["epoch": NSNumber(value: 10), "loss": NSNumber(value: 143.25), "kl": NSNumber(value: 17.5)]
        run.analysis = analysis
        run.pictures = ["samples.png": try! PNG.grayscale(width: 2, height: 1, pixels: [0, 255]), "learning_curves.svg": Array(svg.utf8),
                        "histograms.svg": Array("<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".utf8)]
        return run
    }

    /// The SVG scanner takes every plot the writer makes and refuses whatever else could carry script or a link.
    @Test func svgAllowListTakesTheWriterAndRefusesTheRest() {
        let head = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">"
        #expect(HTMLReport.inlineSVG(Array(Self.svg.utf8)) != nil, "the writer's own plot")
        let accepted = [head + "</svg>", "<svg/>", head + "<g class='a'><text x=\"1\">a &lt; b &amp; &#956; &#x3bc;</text></g></svg>\n",
                        head + "<path d=\"M0 0L1 1\" stroke=\"#000\"/></svg>"]
        for svg in accepted { #expect(HTMLReport.inlineSVG(Array(svg.utf8)) != nil, "\(svg)") }
        let refused = [
            head + "<script>alert(1)</script></svg>", head + "<!-- a --></svg>", "<?xml version=\"1.0\"?>" + head + "</svg>",
            head + "<![CDATA[x]]></svg>", "<!DOCTYPE svg>" + head + "</svg>", head + "<g onload=\"alert(1)\"></g></svg>",
            head + "<rect fill=\"url(#a)\"/></svg>", head + "<text x=\"1\" y=\"javascript:1\"/></svg>", head + "<g></svg>",
            head + "<g></rect></svg>", head + "</svg><svg></svg>", head + "<text>&unknown;</text></svg>", head + "<text>a & b</text></svg>",
            head + "<rect x=\"1\"y=\"2\"/></svg>", head + "<rect x=1/></svg>", head + "<rect x=\"<\"/></svg>", "<g></g>", head,
            "<svg xmlns:xlink=\"http://www.w3.org/1999/xlink\"></svg>", head + "<a href=\"x\"></a></svg>", "",
        ]
        for svg in refused { #expect(HTMLReport.inlineSVG(Array(svg.utf8)) == nil, "\(svg)") }
        #expect(HTMLReport.inlineSVG([0x3C, 0x73, 0x76, 0x67, 0xFF, 0x3E]) == nil, "invalid UTF-8")
    }

    @Test func pageEscapesRunTextAndPlacesErrorsBesideThePaper() {
        let analysis: [String: Any] = ["code": "alpha/alpha0", "active_units": ["count": 12, "threshold": 0.01],
                                       "classification": ["distance": "hellinger", "knn": ["2": 0.091, "5": 0.0702, "10": 0.07],
                                                          "logistic_regression": 0.12, "lda": 0.145]]
        let page = HTMLReport.page([Self.summary(analysis: analysis), Self.summary(analysis: nil)], title: "A & B")
        #expect(page.contains("<title>A &amp; B</title>"))
        #expect(!page.contains("<b>one</b>") && page.contains("&lt;b&gt;one&lt;/b&gt;"))
        #expect(!page.contains("<img src=x") && page.contains("&lt;img src=x onerror=alert(1)&gt;"))
        // the errors as percentages, then the paper's row, and a hint for the run without analysis.json
        for cell in ["9.1", "7.0", "7.0", "12.0", "14.5"] { #expect(page.contains("<td class=\"num\">\(cell)</td>"), "\(cell)") }
        #expect(page.contains("paper 000, Fig. 4") && page.contains("<td class=\"num\">9</td><td class=\"num\">7</td><td class=\"num\">7</td><td class=\"num\">12</td><td class=\"num\">14</td>"))
        #expect(page.contains("no analysis.json: run <code>latentkit analyze"))
        // PNG as a data: URI, our SVG inline, an SVG with a script only as an image (where no script runs)
        #expect(page.components(separatedBy: "src=\"data:image/png;base64,").count == 3)
        #expect(page.components(separatedBy: "<path class=\"curve\"").count == 3)
        #expect(!page.contains("<script>") && page.components(separatedBy: "src=\"data:image/svg+xml;base64,").count == 3)
        // a comment is refused too (the HTML parser ends comments where XML does not)
        var commented = Self.summary(analysis: nil)
        commented.pictures = ["scatter.svg": Array("<svg xmlns=\"http://www.w3.org/2000/svg\"><!-- a --></svg>".utf8)]
        #expect(HTMLReport.page([commented]).contains("src=\"data:image/svg+xml;base64,"))
        #expect(page.contains("<td class=\"num\">143.25</td>"))
    }

    static func trainTinyRun(_ run: String, latentSize: Int, kind: BackendKind = .cpu) throws {
        let train = try runTool(["train", "--backend", kind.rawValue, "--epochs", "1", "--limit", "1000", "--latent-size", "\(latentSize)", "--out", run])
        #expect(train.status == 0, "\(train.stderr)")
    }

    @Test(arguments: TestBackends.all)
    func plotsAndReportEndToEnd(kind: BackendKind) throws {
        let dir = try temporaryDirectory("cli-plots")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let flat = dir + "/nz2", wide = dir + "/nz3"
        try Self.trainTinyRun(flat, latentSize: 2, kind: kind)
        try Self.trainTinyRun(wide, latentSize: 3, kind: kind)

        let plots = try runTool(["plots", flat, "--backend", kind.rawValue, "--lattice"])
        #expect(plots.status == 0, "\(plots.stderr)")
        for name in plotFiles where !topicPlotFiles.contains(name) { #expect(FileManager.default.fileExists(atPath: "\(flat)/plots/\(name)"), "\(name)") }
        let lattice = try decodePNG(flat + "/plots/lattice.png")
        #expect(lattice.width == 20 * 29 + 1 && lattice.height == 20 * 29 + 1 && lattice.channels == 1)
        let reconstructions = try decodePNG(flat + "/plots/reconstructions.png")
        #expect(reconstructions.width == 16 * 29 + 1 && reconstructions.height == 2 * 29 + 1 && reconstructions.channels == 3)

        let other = dir + "/elsewhere"
        let tsne = try runTool(["plots", wide, "--backend", kind.rawValue, "--tsne-points", "300", "--out", other])
        #expect(tsne.status == 0, "\(tsne.stderr)")
        #expect(tsne.stdout.contains("t-SNE of 300 codes of 3 dimensions") && tsne.stdout.contains("no lattice.png"), "\(tsne.stdout)")
        #expect(!FileManager.default.fileExists(atPath: other + "/lattice.png"))
        let circles = try runPython("""
            import sys, xml.etree.ElementTree as ET
            print(len(list(ET.parse(sys.argv[1]).getroot().iter('{http://www.w3.org/2000/svg}circle'))))
            """, [other + "/scatter.svg"])
        #expect(circles.trimmingCharacters(in: .whitespacesAndNewlines) == "300")
        try FileManager.default.moveItem(atPath: other, toPath: wide + "/plots")

        let html = dir + "/report.html"
        let report = try runTool(["report", flat, wide, "--backend", kind.rawValue, "--out", html])
        #expect(report.status == 0, "\(report.stderr)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        // three PNGs of the 2-D run with its lattice, three of the other; three inline SVGs each
        #expect(page.components(separatedBy: "src=\"data:image/png;base64,").count - 1 == 7)
        #expect(page.components(separatedBy: "<svg xmlns=").count - 1 == 6)
        #expect(page.contains("test −ELBO") && page.contains("latentkit analyze"))
        for run in [flat, wide] {
            let eval = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/eval.json"))) as? [String: Any]
            #expect((eval?["test_neg_elbo"] as? Double ?? 0) > 50 && eval?["images"] as? Int == 10_000)
        }

        // a wider latent asking for the lattice; a model whose input size is not the data's
        let latticeError = try runTool(["plots", wide, "--backend", kind.rawValue, "--lattice"])
        #expect(latticeError.status == 1 && latticeError.stderr.contains("--lattice needs a latent of size 2") && latticeError.stderr.contains("t-SNE"))
        var config = try RunConfig.load(from: wide + "/config.json")
        config.model.inputSize = 100
        try config.save(to: wide + "/config.json")
        let mismatch = try runTool(["plots", wide, "--backend", kind.rawValue])
        #expect(mismatch.status == 1 && mismatch.stderr.contains("dataset mismatch") && mismatch.stderr.contains("takes 100"), "\(mismatch.stderr)")
    }

    /// (arguments, text the error must contain)
    static let badInputs: [([String], String)] = [
        (["plots", "/tmp"], "is not a LatentKit run directory"),
        (["plots", "/tmp", "--tsne-points", "1"], "--tsne-points must be >= 2"),
        (["plots", "/tmp", "--tsne-points", "many"], "--tsne-points"),
        (["report", "/tmp", "--out", "/tmp/latentkit-never.html"], "is not a LatentKit run directory"),
        (["report", "/tmp", "--out", "/tmp/latentkit-never.txt"], "--out must name an .html file"),
        (["report", "--out", "/tmp/latentkit-never.html"], "Missing expected argument '<run-directories>"),
        (["report", "/tmp"], "--out"),
        (["report", "/tmp/x", "/tmp/./x/", "--out", "/tmp/latentkit-never.html"], "/tmp/./x/ and /tmp/x are the same run; name it once"),
    ]

    @Test(arguments: 0..<badInputs.count)
    func badInputIsAClearErrorAndANonZeroExit(index: Int) throws {
        let (arguments, message) = Self.badInputs[index]
        let result = try runTool(arguments + ["--backend", "cpu"])
        #expect(result.status != 0 && result.status < 128, "status \(result.status)")
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        // the error on the first line (ArgumentParser adds the usage below the errors it finds itself)
        #expect(result.stderr.split(separator: "\n").first?.contains(message) == true, "stderr: \(result.stderr)")
    }

    @Test func unwritableOutputsAreErrors() throws {
        let dir = try temporaryDirectory("cli-unwritable")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        let train = try runTool(["train", "--backend", "cpu", "--epochs", "1", "--limit", "200", "--latent-size", "2", "--out", run])
        #expect(train.status == 0, "\(train.stderr)")
        let plots = try runTool(["plots", run, "--backend", "cpu", "--out", "/etc/passwd/plots"])
        #expect(plots.status == 1 && plots.stderr.contains("cannot create output directory /etc/passwd/plots"), "\(plots.stderr)")
        let report = try runTool(["report", run, "--backend", "cpu", "--out", "/etc/passwd/report.html"])
        #expect(report.status == 1 && report.stderr.contains("cannot write /etc/passwd/report.html"), "\(report.stderr)")
        #expect(report.stderr.contains("run latentkit plots"), "the missing pictures are named: \(report.stderr)")

        // a configuration without its checkpoint
        let bare = dir + "/bare"
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: run + "/config.json", toPath: bare + "/config.json")
        for command in [["plots", bare], ["report", bare, "--out", dir + "/r.html"]] {
            let result = try runTool(command + ["--backend", "cpu"])
            #expect(result.status == 1 && result.stderr.contains("checkpoint.safetensors is missing"), "\(command[0]): \(result.stderr)")
        }
    }
}
