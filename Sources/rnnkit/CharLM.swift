import ArgumentParser

/// `rnnkit sample text`.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate from a saved model.", subcommands: [CharLMSample.self])
}

/// `rnnkit charlm train|sample|eval`: the spellings before the verb-first grammar, kept working
/// (hidden) so nothing documented earlier breaks. Each runs the verb-first command unchanged.
struct CharLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "charlm",
        abstract: "Character-level language models (now `rnnkit train|eval|sample text`).",
        shouldDisplay: false,
        subcommands: [Train.self, Sample.self, Eval.self]
    )

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "train", abstract: "Same as `rnnkit train text`.")
        @OptionGroup var command: CharLMTrain
        func run() throws { try command.run() }
    }

    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sample", abstract: "Same as `rnnkit sample text`.")
        @OptionGroup var command: CharLMSample
        func run() throws { try command.run() }
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "eval", abstract: "Same as `rnnkit eval text`.")
        @OptionGroup var command: CharLMEval
        func run() throws { try command.run() }
    }
}

/// `canonical` ("rnnkit train text"), or the hidden `charlm` spelling when the user typed that, so
/// that the resume hint repeats what they ran.
func invokedAs(_ canonical: String) -> String {
    let arguments = CommandLine.arguments.dropFirst()
    guard arguments.first == "charlm", let verb = arguments.dropFirst().first else { return canonical }
    return "rnnkit charlm \(verb)"
}
