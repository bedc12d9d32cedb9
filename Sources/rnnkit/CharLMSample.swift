import ArgumentParser
import Foundation
import RNNKit

struct CharLMSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text", abstract: "Generate text from a trained character model, streaming it as it is drawn.")

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "Text fed to the model first (default: a newline).") var prime = ""
    @Option(help: "Characters to generate.") var length = 500
    @Option(help: "Below 1 sharpens the distribution, above 1 flattens it.") var temperature = 1.0
    @Option(name: .customLong("top-k"), help: "Draw only among the k most likely characters.") var topK: Int?
    @Flag(help: "Always take the most likely character.") var argmax = false
    @Option(help: "Seed of the draws: the same seed gives the same text.") var seed: UInt64 = 0

    func validate() throws {
        if !(temperature > 0) { throw ValidationError("--temperature must be positive (found \(temperature)); use --argmax for greedy text.") }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1 (found \(topK)).") }
        if length < 0 { throw ValidationError("--length must be 0 or more (found \(length)).") }
    }

    func run() throws {
        let loaded = try CharLMCheckpoint.load(from: model, forResume: false)
        var generator = SeededGenerator(seed: seed)
        FileHandle.standardOutput.write(Data(prime.utf8))
        _ = try loaded.model.sample(prime: prime, length: length, options: SamplingOptions(temperature: temperature, topK: topK, argmax: argmax),
                                    generator: &generator) { FileHandle.standardOutput.write(Data($0.utf8)) }
        print("")
    }
}
