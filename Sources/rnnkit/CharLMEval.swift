import ArgumentParser
import Foundation
import RNNKit

struct CharLMEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text", abstract: "Loss and bits per character of a trained character model on a text.")

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "UTF-8 text file.") var text: String
    @Flag(name: .customLong("strip-ansi"), help: "Remove ANSI colour escapes first.") var stripANSI = false
    @Flag(help: "End with one line of JSON holding the results.") var json = false

    func run() throws {
        let loaded = try CharLMCheckpoint.load(from: model, forResume: false)
        let ids = try loaded.configuration.model.vocabulary.encode(TextCorpus.read(path: text, stripANSI: stripANSI), argument: text)
        guard ids.count >= 2 else { throw ValidationError("\(text): at least 2 characters are needed to predict one.") }
        let options = loaded.configuration.training ?? CharLMTrainingOptions()
        let loss = try LanguageModelTask.evaluate(loaded.model, ids, streams: options.batchSize, steps: options.sequenceLength)
        print(String(format: "%@: loss %.4f nats/char, %.4f bits/char over %d characters", text, loss, loss / log(2.0), ids.count))
        if json { printJSONLine(["loss": loss, "bits_per_character": loss / log(2.0), "characters": ids.count, "model": model]) }
    }
}
