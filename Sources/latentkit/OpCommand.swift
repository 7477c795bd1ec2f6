// `latentkit op NAME`: apply one elementwise op to numbers read one per line, on a chosen backend.

import ArgumentParser
import Foundation
import LatentKit

struct OpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "op",
        abstract: "Apply an elementwise op to numbers read one per line and print one result per line.",
        discussion: "NAME is one of: \(UnaryOp.allCases.map(\.cName).joined(separator: ", ")).")

    @Argument(help: "The op to apply.")
    var name: UnaryOp

    @OptionGroup var backendOptions: BackendOptions

    @Option(help: "Read numbers from this file instead of standard input.")
    var input: String?

    func run() throws {
        let text: String
        if let input {
            guard let data = FileManager.default.contents(atPath: input) else {
                throw ToolError("cannot read input file '\(input)'")
            }
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        var xs: [Float] = []
        // any line break, CR-LF included (one Character in Swift, which a split on "\n" would not see)
        for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let token = line.trimmingCharacters(in: .whitespaces)
            if token.isEmpty { continue }
            guard let x = Float(token) else {
                let shown = token.count > 40 ? String(token.prefix(40)).debugDescription + "…" : "'\(token)'"
                throw ToolError("line \(i + 1): \(shown) is not a number (expected one decimal number per line, e.g. 1.5, 1e-6, nan, inf)")
            }
            // NaN in gives NaN out (the domain convention); a number outside the domain would give a silent NaN
            if let least = name.smallestArgument, x < least {
                let why = [.lgamma, .digamma, .trigamma].contains(name) ? " (negative arguments are outside what the toolkit computes)" : ""
                throw ToolError("line \(i + 1): \(name.cName) is defined here for x >= \(least), got \(x)\(why)")
            }
            xs.append(x)
        }
        let backend = try backendOptions.make()
        let y = try backend.allocate(count: xs.count, dtype: .float32)
        try backend.unary(name, try backend.buffer(xs), into: y, count: xs.count)
        // Swift's description is the shortest decimal that reads back to the same float: full precision.
        print(try backend.download(y).map { "\($0)" }.joined(separator: "\n"))
    }
}
