import Foundation
import RNNKit
import Testing

/// The attention decoder's building blocks: finite differences in Double on odd sizes, with
/// padding masked, and their values against direct sums.
@Suite struct AttentionOperationTests {
    static let tolerance = 1e-6

    static func variable(_ shape: [Int], _ g: inout SeededGenerator) throws -> Variable<Double> {
        Variable(try randomTensor(shape, &g), requiresGrad: true)
    }

    @Test func tanhConcatenateAndStackGradients() throws {
        var g = SeededGenerator(seed: 1)
        let a = try Self.variable([3, 2, 5], &g), b = try Self.variable([3, 2, 1], &g), c = try Self.variable([3, 2, 4], &g)
        let joined = try checkGradients([("a", a), ("b", b), ("c", c)]) {
            try projection(try Variable.concatenating([a, b, c]).tanh(), seed: 2)
        }
        #expect(joined.worstRelativeError < Self.tolerance, "\(joined)")
        let steps = try (0..<4).map { _ in try Self.variable([3, 5], &g) }
        let stacked = try checkGradients(steps.enumerated().map { ("step\($0)", $1) }) {
            try projection(try Variable.stackingSteps(steps), seed: 3)
        }
        #expect(stacked.worstRelativeError < Self.tolerance, "\(stacked)")
        let s = try Variable.stackingSteps(steps)
        #expect(s.shape == [3, 4, 5])
        #expect(s.value.scalars[(2 * 4 + 3) * 5 + 1] == steps[3].value.scalars[2 * 5 + 1])
        let j = try Variable.concatenating([a, b, c])
        #expect(j.shape == [3, 2, 10] && j.value.scalars[10 * 4 + 5] == b.value.scalars[4])
        #expect(throws: RNNKitError.self) { try Variable.concatenating([a, try Self.variable([2, 2, 1], &g)]) }
        #expect(throws: RNNKitError.self) { try Variable.stackingSteps([steps[0], try Self.variable([3, 4], &g)]) }
    }

    /// Luong general and Bahdanau additive attention, whole: scores, the masked softmax and the
    /// context, differentiated with respect to the memory, the query and the weights.
    @Test(arguments: ["luong", "bahdanau"]) func attentionGradientsWithPadding(kind: String) throws {
        var g = SeededGenerator(seed: kind == "luong" ? 4 : 5)
        let (B, S, K, Q, A) = (3, 5, 4, 3, 7)
        let memory = try Self.variable([B, S, K], &g), query = try Self.variable([B, Q], &g)
        let lengths = [5, 2, 1]
        var draw = SeededGenerator(seed: 9)
        let wq = try Dense<Double>(inputSize: Q, outputSize: kind == "luong" ? K : A, useBias: false, generator: &draw)
        let w1 = try Dense<Double>(inputSize: K, outputSize: A, useBias: false, generator: &draw)
        let v = try Self.variable([A], &g)
        func context() throws -> (weights: Variable<Double>, context: Variable<Double>) {
            let scores: Variable<Double> = kind == "luong"
                ? try Attention.dotScores(memory: memory, query: wq(query))
                : try Attention.additiveScores(keys: w1(memory), query: wq(query), v: v)
            let weights = try Attention.maskedSoftmax(scores, lengths: lengths)
            return (weights, try Attention.context(weights: weights, memory: memory))
        }
        let parameters = [("memory", memory), ("query", query)] + wq.namedParameters.map { ("Wq." + $0.name, $0.variable) }
            + (kind == "luong" ? [] : [("v", v)] + w1.namedParameters.map { ("W1." + $0.name, $0.variable) })
        let report = try checkGradients(parameters) { try projection(try context().context, seed: 6) }
        #expect(report.worstRelativeError < Self.tolerance, "\(report)")
        let weightsReport = try checkGradients(parameters) { try projection(try context().weights, seed: 7) }
        #expect(weightsReport.worstRelativeError < Self.tolerance, "\(weightsReport)")

        // Values: weights sum to 1 over each source's steps and are 0 past it; padding never reaches the context.
        let (weights, c) = try context()
        for b in 0..<B {
            let row = Array(weights.value.scalars[(b * S)..<((b + 1) * S)])
            #expect(abs(row.prefix(lengths[b]).reduce(0, +) - 1) < 1e-12)
            #expect(row.dropFirst(lengths[b]).allSatisfy { $0 == 0 })
            for k in 0..<K {
                let direct = (0..<lengths[b]).map { row[$0] * memory.value.scalars[(b * S + $0) * K + k] }.reduce(0, +)
                #expect(abs(c.value.scalars[b * K + k] - direct) < 1e-12)
            }
        }
        let before = c.value.scalars
        memory.value.withUnsafeMutableBufferPointer { m in for k in 0..<K { m[(2 * S + 3) * K + k] = 1e6 } }  // padding of sample 2
        #expect(try context().context.value.scalars == before)
    }

    @Test func refusesBadShapesAndLengths() throws {
        var g = SeededGenerator(seed: 8)
        let memory = try Self.variable([2, 3, 4], &g), scores = try Self.variable([2, 3], &g)
        #expect(throws: RNNKitError.self) { try Attention.dotScores(memory: memory, query: try Self.variable([2, 5], &g)) }
        #expect(throws: RNNKitError.self) { try Attention.additiveScores(keys: memory, query: try Self.variable([2, 4], &g), v: try Self.variable([3], &g)) }
        #expect(throws: RNNKitError.self) { try Attention.maskedSoftmax(scores, lengths: [3, 0]) }
        #expect(throws: RNNKitError.self) { try Attention.maskedSoftmax(scores, lengths: [3, 4]) }
        #expect(throws: RNNKitError.self) { try Attention.maskedSoftmax(scores, lengths: [3]) }
        #expect(throws: RNNKitError.self) { try Attention.context(weights: try Self.variable([2, 4], &g), memory: memory) }
    }
}
