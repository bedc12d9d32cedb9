import RNNKit
import Testing

/// Bad shapes and sizes at the public API raise a typed error naming the argument, what was found
/// and what was expected, never a trap.
@Suite struct ErrorTests {
    struct BadCall: CustomTestStringConvertible, Sendable {
        var name: String
        var expectedFragments: [String]
        var call: @Sendable () throws -> Void
        var testDescription: String { name }
    }

    static func layer(_ cell: RecurrentCell = .lstm, bidirectional: Bool = false) throws -> RecurrentLayer<Float> {
        var g = SeededGenerator(seed: 0)
        return try RecurrentLayer<Float>(cell, inputSize: 4, hiddenSize: 6, isBidirectional: bidirectional, generator: &g)
    }

    static func zeros(_ shape: [Int]) throws -> Tensor<Float> { try Tensor(repeating: 0, shape: shape) }

    static let cases: [BadCall] = [
        BadCall(name: "tensor with too few scalars", expectedFragments: ["scalars", "6 elements", "found 5"]) {
            _ = try Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5])
        },
        BadCall(name: "negative dimension", expectedFragments: ["shape", "non-negative", "-1"]) {
            _ = try Tensor<Float>(repeating: 0, shape: [2, -1])
        },
        BadCall(name: "reshape changing the count", expectedFragments: ["newShape", "6 elements", "(4, 2)"]) {
            _ = try zeros([2, 3]).reshaped([4, 2])
        },
        BadCall(name: "matmul inner mismatch", expectedFragments: ["other", "(3, n)", "(4, 2)"]) {
            _ = try zeros([2, 3]).matmul(zeros([4, 2]))
        },
        BadCall(name: "element-wise shapes differ", expectedFragments: ["right operand of +", "(2, 3)", "(3, 2)"]) {
            _ = try zeros([2, 3]) + zeros([3, 2])
        },
        BadCall(name: "dense input features", expectedFragments: ["input", "(..., 4)", "(2, 5)", "inputSize"]) {
            var g = SeededGenerator(seed: 0)
            _ = try Dense<Float>(inputSize: 4, outputSize: 3, generator: &g)(zeros([2, 5]))
        },
        BadCall(name: "dense zero size", expectedFragments: ["outputSize", "positive", "found 0"]) {
            var g = SeededGenerator(seed: 0)
            _ = try Dense<Float>(inputSize: 4, outputSize: 0, generator: &g)
        },
        BadCall(name: "embedding id out of range", expectedFragments: ["ids[2]", "0..<5", "found 7"]) {
            var g = SeededGenerator(seed: 0)
            let e = try Embedding<Float>(vocabularySize: 5, embeddingSize: 3, generator: &g)
            _ = try e.lookup(ids: [0, 1, 7], shape: [3])
        },
        BadCall(name: "embedding ids and shape disagree", expectedFragments: ["ids", "(2, 2)", "found (3)"]) {
            var g = SeededGenerator(seed: 0)
            let e = try Embedding<Float>(vocabularySize: 5, embeddingSize: 3, generator: &g)
            _ = try e(ids: [0, 1, 2], shape: [2, 2])
        },
        BadCall(name: "hidden size zero", expectedFragments: ["hiddenSize", "positive", "found 0"]) {
            var g = SeededGenerator(seed: 0)
            _ = try RecurrentLayer<Float>(.gru, inputSize: 3, hiddenSize: 0, generator: &g)
        },
        BadCall(name: "dropout rate 1", expectedFragments: ["dropout", "[0, 1)", "found 1.0", "keep_prob"]) {
            var g = SeededGenerator(seed: 0)
            _ = try RecurrentLayer<Float>(RecurrentConfiguration(cell: .lstm, inputSize: 3, hiddenSize: 4, dropout: 1),
                                          generator: &g)
        },
        BadCall(name: "forget bias on a GRU", expectedFragments: ["forgetBias", "gru", "forget gate"]) {
            var g = SeededGenerator(seed: 0)
            _ = try RecurrentLayer<Float>(RecurrentConfiguration(cell: .gru, inputSize: 3, hiddenSize: 4, forgetBias: 1),
                                          generator: &g)
        },
        BadCall(name: "recurrent input of rank 2", expectedFragments: ["input", "(B, T, 4)", "found (5, 4)", "batch-first"]) {
            _ = try layer()(zeros([5, 4]))
        },
        BadCall(name: "recurrent input features", expectedFragments: ["input", "(B, T, 4)", "(2, 3, 7)"]) {
            _ = try layer()(zeros([2, 3, 7]))
        },
        BadCall(name: "initial h of the wrong shape", expectedFragments: ["initialState.h", "(1, 2, 6)", "(2, 1, 6)"]) {
            _ = try layer(.gru)(zeros([2, 3, 4]), initialState: RecurrentState(h: zeros([2, 1, 6])))
        },
        BadCall(name: "LSTM state without c", expectedFragments: ["initialState.c", "cell state", "(1, 2, 6)"]) {
            _ = try layer(.lstm)(zeros([2, 3, 4]), initialState: RecurrentState(h: zeros([1, 2, 6])))
        },
        BadCall(name: "GRU state with c", expectedFragments: ["initialState.c", "gru", "Only an LSTM"]) {
            _ = try layer(.gru)(zeros([2, 3, 4]), initialState: RecurrentState(h: zeros([1, 2, 6]), c: zeros([1, 2, 6])))
        },
        BadCall(name: "LSTM c of the wrong shape", expectedFragments: ["initialState.c", "(1, 2, 6)", "(1, 2, 5)"]) {
            _ = try layer(.lstm)(zeros([2, 3, 4]), initialState: RecurrentState(h: zeros([1, 2, 6]), c: zeros([1, 2, 5])))
        },
        BadCall(name: "lengths count", expectedFragments: ["lengths", "(2)", "found (3)"]) {
            _ = try layer()(zeros([2, 3, 4]), lengths: [1, 2, 3])
        },
        BadCall(name: "length past the steps", expectedFragments: ["lengths[1]", "0...3", "found 4"]) {
            _ = try layer()(zeros([2, 3, 4]), lengths: [3, 4])
        },
        BadCall(name: "negative length", expectedFragments: ["lengths[0]", "found -1"]) {
            _ = try layer()(Variable(zeros([2, 3, 4])), lengths: [-1, 2])
        },
        BadCall(name: "step on a bidirectional stack", expectedFragments: ["step", "unidirectional", "whole sequence"]) {
            _ = try layer(bidirectional: true).step(zeros([2, 4]))
        },
        BadCall(name: "step with a sequence", expectedFragments: ["input", "(B, 4)", "(2, 3, 4)"]) {
            _ = try layer().step(zeros([2, 3, 4]))
        },
        BadCall(name: "unknown parameter name", expectedFragments: ["name", "weight_ih_l0", "found 'weight_ih_l1'"]) {
            try layer().setParameter(named: "weight_ih_l1", to: zeros([24, 4]))
        },
        BadCall(name: "parameter of the wrong shape", expectedFragments: ["weight_hh_l0", "(24, 6)", "(6, 24)"]) {
            try layer().setParameter(named: "weight_hh_l0", to: zeros([6, 24]))
        },
        BadCall(name: "backward seed of the wrong shape", expectedFragments: ["seed", "(2, 3)", "found (3)"]) {
            try Variable(zeros([2, 3]), requiresGrad: true).backward(seed: zeros([3]))
        },
    ]

    @Test(arguments: cases)
    func rejects(_ bad: BadCall) {
        do {
            try bad.call()
            Issue.record("\(bad.name): no error was thrown")
        } catch let error as RNNKitError {
            let message = error.description
            for fragment in bad.expectedFragments {
                #expect(message.contains(fragment), "\(bad.name): '\(fragment)' missing from: \(message)")
            }
        } catch {
            Issue.record("\(bad.name): threw \(error), not an RNNKitError")
        }
    }
}
