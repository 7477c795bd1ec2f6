// `latentkit report RUN_DIR... --out FILE.html`: one self-contained page comparing runs.

import ArgumentParser
import Foundation
import LatentKit

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "One self-contained HTML page comparing runs: configuration, metrics, classification errors, pictures.",
        discussion: """
            Reads each run's config.json, metrics.jsonl, eval.json, analysis.json (from latentkit analyze) and the \
            pictures in RUN_DIR/plots (from latentkit plots; the report does not make them, since t-SNE takes minutes, \
            and says so for a run without them). A run without eval.json, or whose eval.json is older than its checkpoint, is evaluated \
            here (test -ELBO with its terms on the whole test set, no importance sampling: a second or two; for a dvae run \
            also log Z by AIS, about 100 s) and eval.json is saved.
            """)

    @Argument(help: "Run directories made by latentkit train.") var runDirectories: [String]
    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "The HTML file to write.") var out: String
    @Option(help: "Page title.") var title = "LatentKit report"
    @Option(help: "Folder with the dataset's IDX files for runs evaluated here (default: each run's).") var dataDir: String?

    func validate() throws {
        if !out.hasSuffix(".html") && !out.hasSuffix(".htm") { throw ValidationError("--out must name an .html file, got \(out)") }
        // one run named twice (runs/a, ./runs/a/) would be two columns of the same figures
        var seen: [String: String] = [:]
        for path in runDirectories {
            let key = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
            if let earlier = seen.updateValue(path, forKey: key) { throw ValidationError("\(path) and \(earlier) are the same run; name it once") }
        }
    }

    func run() throws {
        var backend: (any Backend)?
        var runs: [RunSummary] = []
        for path in runDirectories {
            try RunDirectory(path).requireRun()
            var summary = try RunSummary.load(path)
            if summary.evaluation == nil || isStale("\(path)/eval.json", comparedWith: RunDirectory(path).checkpoint) {
                if backend == nil { backend = try backendOptions.make() }
                summary.evaluation = try evaluate(path, on: backend!, notes: &summary.notes)
            }
            if summary.pictures.isEmpty {
                summary.notes.append("no pictures in \(path)/plots: run latentkit plots \(path)")
                FileHandle.standardError.write(Data("note: \(path) has no pictures; run latentkit plots \(path) first\n".utf8))
            }
            if summary.analysis == nil { summary.notes.append("no analysis.json: run latentkit analyze \(path)") }
            runs.append(summary)
        }
        let page = HTMLReport.page(runs, title: title)
        do {
            try Data(page.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
        } catch {
            throw ToolError("cannot write \(out): \(error.localizedDescription)")
        }
        print("wrote \(out): \(runs.count) run(s), \(page.utf8.count / 1024) KiB")
    }

    /// Whether `file` is older than `reference` (an eval.json written before training resumed describes another model).
    func isStale(_ file: String, comparedWith reference: String) -> Bool {
        let manager = FileManager.default
        guard let a = (try? manager.attributesOfItem(atPath: file))?[.modificationDate] as? Date,
              let b = (try? manager.attributesOfItem(atPath: reference))?[.modificationDate] as? Date else { return false }
        return a < b
    }

    /// The test -ELBO with its terms (k = 0: no importance sampling), saved as RUN_DIR/eval.json when the folder is
    /// writable.
    func evaluate(_ path: String, on backend: any Backend, notes: inout [String]) throws -> [String: Any]? {
        let (config, model) = try loadRun(path, on: backend)
        let data = try config.loadData(directory: dataDir, trainLimit: 1, testLimit: nil)
        try config.model.requireInput(data.test)
        let evaluator = Evaluator(model: model, backend: backend)
        evaluator.binarizesTestSet = config.binarization != .none
        let evaluation = try evaluator.evaluate(data.test, k: 1, limit: nil, importanceSampling: false)
        // a bound that diverges is no figure: the page shows the run with this note, and no eval.json is saved
        do { try evaluation.requireFinite() } catch {
            notes.append("no evaluation: \(error)")
            FileHandle.standardError.write(Data("note: \(path): \(error)\n".utf8))
            return nil
        }
        var result = evaluation.json
        result["k"] = 0
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        if (try? json.write(to: URL(fileURLWithPath: "\(path)/eval.json"), options: .atomic)) == nil {
            notes.append("eval.json could not be saved in \(path)")
        }
        return result
    }
}
