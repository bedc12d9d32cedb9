import RealModule

/// What decoding produced for one source.
public struct DecodedSequence<Scalar: TensorScalar>: Equatable {
    /// Output token ids, without the start and end tokens.
    public var tokens: [Int]
    /// Attention weights of each output step (and the end token's) over the source's tokens;
    /// empty without attention.
    public var attention: [[Scalar]]
    /// Σ log p of the tokens and the end token (the whole hypothesis when it never ended).
    public var logProbability: Double
    /// Whether the end token was produced before the maximum length.
    public var finished: Bool
}

extension Seq2SeqModel {
    /// Rows `rows` (with repeats) of an encoded batch and of a decoder state: each source's
    /// copies for beam search. Values only (inference).
    func selecting(_ encoded: Encoded, rows: [Int]) -> Encoded {
        Encoded(memory: Variable(encoded.memory.value.selectingRows(rows, axis: 0)),
                keys: encoded.keys.map { Variable($0.value.selectingRows(rows, axis: 0)) },
                lengths: rows.map { encoded.lengths[$0] },
                state: selecting(encoded.state, rows: rows))
    }

    func selecting(_ state: RecurrentState<Variable<Scalar>>, rows: [Int]) -> RecurrentState<Variable<Scalar>> {
        RecurrentState(h: Variable(state.h.value.selectingRows(rows, axis: 1)), c: state.c.map { Variable($0.value.selectingRows(rows, axis: 1)) })
    }

    /// Greedy decoding of a batch: at each step the most likely token (padding and start aside),
    /// until every output has ended or reached `maxLength` tokens.
    public func greedy(_ sources: [[Int]], maxLength: Int) throws(RNNKitError) -> [DecodedSequence<Scalar>] {
        try requirePositive(maxLength, "max-length")
        var none: SeededGenerator? = nil
        let encoded = try encode(sources, generator: &none)
        let V = configuration.targetVocabulary
        var state = encoded.state, feed: Variable<Scalar>? = nil
        var results = sources.map { _ in DecodedSequence<Scalar>(tokens: [], attention: [], logProbability: 0, finished: false) }
        for _ in 0..<maxLength {
            let previous = results.map { $0.finished ? TokenVocabulary.padding : ($0.tokens.last ?? TokenVocabulary.start) }
            let out = try decodeStep(previous, feed: feed, state: state, encoded: encoded, generator: &none)
            (state, feed) = (out.state, out.feed)
            let logits = out.logits.value.scalars
            for b in results.indices where !results[b].finished {
                let row = (0..<V).map { Double(logits[b * V + $0]) }
                var best = TokenVocabulary.end
                for v in (TokenVocabulary.end + 1)..<max(V, TokenVocabulary.end + 1) where row[v] > row[best] { best = v }
                let top = row.max()!
                results[b].logProbability += row[best] - top - Double.log(row.map { Double.exp($0 - top) }.reduce(0, +))
                if let w = out.weights {
                    let S = w.shape[1]
                    results[b].attention.append(Array(w.value.scalars[(b * S)..<(b * S + sources[b].count)]))
                }
                if best == TokenVocabulary.end { results[b].finished = true } else { results[b].tokens.append(best) }
            }
            if results.allSatisfy(\.finished) { break }
        }
        return results
    }

    /// Beam search over a batch (every source's `beam` hypotheses decoded as rows of one batch),
    /// ranking finished hypotheses by GNMT's length-normalised score `log p / ((5 + |Y|) / 6)^α`
    /// (|Y| counts the end token). A source is done when it has `beam` finished hypotheses; at
    /// `maxLength` its live ones are scored as they stand. Beam 1 is greedy decoding.
    public func beamSearch(_ sources: [[Int]], beam: Int, lengthPenalty alpha: Double = 0.6, maxLength: Int)
        throws(RNNKitError) -> [DecodedSequence<Scalar>] {
        try requirePositive(beam, "beam")
        try requirePositive(maxLength, "max-length")
        var none: SeededGenerator? = nil
        let B = sources.count, K = beam, V = configuration.targetVocabulary
        let base = try encode(sources, generator: &none)
        // Row b·K + k holds hypothesis k of source b.
        let rows = (0..<B).flatMap { b in Array(repeating: b, count: K) }
        var encoded = selecting(base, rows: rows)
        var state = encoded.state, feed: Variable<Scalar>? = nil
        typealias Hypothesis = DecodedSequence<Scalar>  // live ones are not finished
        var live: [[Hypothesis]] = (0..<B).map { _ in [Hypothesis(tokens: [], attention: [], logProbability: 0, finished: false)] }
        var finished: [[DecodedSequence<Scalar>]] = Array(repeating: [], count: B)
        var done = [Bool](repeating: false, count: B)
        func penalty(_ length: Int) -> Double { alpha == 0 ? 1 : Double.pow((5 + Double(length)) / 6, alpha) }
        func score(_ d: DecodedSequence<Scalar>) -> Double { d.logProbability / penalty(d.tokens.count + (d.finished ? 1 : 0)) }
        for step in 1...maxLength {
            let previous = (0..<(B * K)).map { r in live[r / K].indices.contains(r % K) ? (live[r / K][r % K].tokens.last ?? TokenVocabulary.start)
                                                                                     : TokenVocabulary.padding }
            let out = try decodeStep(previous, feed: feed, state: state, encoded: encoded, generator: &none)
            let logits = out.logits.value.scalars, weights = out.weights?.value.scalars
            let S = out.weights?.shape[1] ?? 0
            var nextRows: [Int] = [], nextLive: [[Hypothesis]] = Array(repeating: [], count: B)
            for b in 0..<B {
                guard !done[b] else { nextRows += Array(repeating: b * K, count: K); continue }
                var candidates: [(logP: Double, from: Int, token: Int)] = []
                for (k, h) in live[b].enumerated() {
                    let r = b * K + k
                    let row = (0..<V).map { Double(logits[r * V + $0]) }
                    let top = row.max()!, logSum = top + Double.log(row.map { Double.exp($0 - top) }.reduce(0, +))
                    for v in 0..<V where v != TokenVocabulary.padding && v != TokenVocabulary.start {
                        candidates.append((h.logProbability + row[v] - logSum, k, v))
                    }
                }
                candidates.sort { $0.logP != $1.logP ? $0.logP > $1.logP : ($0.from, $0.token) < ($1.from, $1.token) }
                for c in candidates {
                    let h = live[b][c.from], r = b * K + c.from
                    let attention = h.attention + (weights.map { [Array($0[(r * S)..<(r * S + sources[b].count)])] } ?? [])
                    if c.token == TokenVocabulary.end {
                        finished[b].append(DecodedSequence(tokens: h.tokens, attention: attention, logProbability: c.logP, finished: true))
                    } else if nextLive[b].count < K {
                        nextLive[b].append(Hypothesis(tokens: h.tokens + [c.token], attention: attention, logProbability: c.logP, finished: false))
                        nextRows.append(r)
                    }
                    if finished[b].count >= K || (nextLive[b].count == K && finished[b].count + nextLive[b].count >= K) { break }
                }
                if finished[b].count >= K { done[b] = true }
                nextRows += Array(repeating: b * K, count: K - nextLive[b].count)  // unused rows: any source row
            }
            live = nextLive
            if done.allSatisfy({ $0 }) || step == maxLength { break }
            encoded = selecting(encoded, rows: nextRows)
            state = selecting(out.state, rows: nextRows)
            feed = Variable(out.feed.value.selectingRows(nextRows, axis: 0))
        }
        return (0..<B).map { b in
            let pool = finished[b] + (done[b] ? [] : live[b])
            return pool.max { score($0) < score($1) }!
        }
    }
}

extension Tensor {
    /// Entries `rows` (repeats allowed) along `axis` (0 or 1).
    func selectingRows(_ rows: [Int], axis: Int) -> Tensor {
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *), n = shape[axis]
        var out = [Scalar](repeating: 0, count: outer * rows.count * inner)
        for o in 0..<outer {
            for (j, r) in rows.enumerated() {
                for i in 0..<inner { out[(o * rows.count + j) * inner + i] = scalars[(o * n + r) * inner + i] }
            }
        }
        var s = shape
        s[axis] = rows.count
        return Tensor(validShape: s, scalars: out)
    }
}
