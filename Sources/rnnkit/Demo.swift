import Foundation
import ArgumentParser
import RNNKit

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Small worked examples from the seed tutorials.",
        subcommands: [Forward.self]
    )

    struct Forward: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seed 001's two-step forward pass of a 2-unit tanh RNN, computed by RNNKit's SimpleRNN."
        )

        func run() throws {
            print("Seed 001: s = tanh(s·W_s + x·w_x + b), y = s·w_o + 0.1")
            print("W_s = [[0.1, 0.2], [0.3, 0.4]], w_x = [0.5, 0.6], b = [0.1, -0.1], w_o = [[0.1], [0.2]], X = [1, 2], s0 = 0")
            for (t, step) in try SeedForwardDemo.run().enumerated() {
                print("step \(t + 1): x = \(format(SeedForwardDemo.inputs[t]))")
                print("  before activation: \(format(step.preActivation))")
                print("  state:             \(format(step.state))")
                print("  output:            \(format(step.output))")
            }
        }

        private func format(_ values: [Double]) -> String {
            "[" + values.map(format).joined(separator: ", ") + "]"
        }

        private func format(_ value: Double) -> String {
            // 10 significant digits, stable across platforms.
            var s = String(format: "%.10g", value)
            if !s.contains(".") && !s.contains("e") { s += ".0" }
            return s
        }
    }
}
