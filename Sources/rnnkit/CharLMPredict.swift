import ArgumentParser
import Foundation
import RNNKit

struct CharLMPredict: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "The most likely next characters after each text, with their probabilities; writes CSV.",
        discussion: "Texts come from the arguments, or one per line from standard input when none is given.")

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "How many of the most likely characters to list.") var top = 5
    @Argument(help: "Texts to continue.") var texts: [String] = []

    func validate() throws {
        if top < 1 { throw ValidationError("--top must be at least 1 (found \(top)).") }
    }

    func run() throws {
        let loaded = try CharLMCheckpoint.load(from: model, forResume: false)
        let characters = loaded.configuration.model.vocabulary.characters
        print("text,rank,character,probability")
        var inputs = texts.makeIterator()
        while let text = texts.isEmpty ? readLine() : inputs.next() {
            let p = try loaded.model.nextCharacterProbabilities(after: text)
            for (rank, id) in p.indices.sorted(by: { p[$0] > p[$1] }).prefix(top).enumerated() {
                print("\(csvField(text)),\(rank + 1),\(csvField(characters[id])),\(String(format: "%.6f", p[id]))")
            }
            fflush(nil)
        }
    }
}
