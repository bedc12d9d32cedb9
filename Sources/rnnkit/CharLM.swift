import ArgumentParser

struct CharLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "charlm",
        abstract: "Character-level language models: train on any UTF-8 text, sample, evaluate.",
        subcommands: [CharLMTrain.self, CharLMSample.self, CharLMEval.self]
    )
}
