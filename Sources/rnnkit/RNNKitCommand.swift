import ArgumentParser

@main
struct RNNKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rnnkit",
        abstract: "Recurrent neural networks (simple RNN, LSTM, GRU) in Swift: train, evaluate, sample, benchmark.",
        subcommands: [Train.self, Eval.self, Predict.self, Sample.self, Export.self, Bench.self, Demo.self, CharLM.self]
    )
}
