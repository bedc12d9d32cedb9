import RealModule

/// How sequence-to-sequence outputs are scored, each against the closest of its source's references:
/// sequence error rate ("WER" in grapheme-to-phoneme papers), token error rate ("PER": edit
/// distance over reference length) and corpus BLEU-4 (Papineni et al. 2002).
public struct SequenceScores: Equatable, Sendable {
    /// Outputs that differ from every reference, as a share of the outputs.
    public var sequenceErrorRate: Double
    /// Σ edit distance to the closest reference / Σ that reference's length.
    public var tokenErrorRate: Double
    /// Corpus BLEU-4 in [0, 1] (nil when not asked for: targets that are not words).
    public var bleu: Double?
    /// Outputs scored.
    public var count: Int
    /// Tokens of the closest references (the token error rate's denominator).
    public var referenceTokens: Int

    /// Scores `outputs[i]` against `references[i]` (each a non-empty list).
    public init(outputs: [[String]], references: [[[String]]], bleu: Bool) {
        precondition(outputs.count == references.count && references.allSatisfy { !$0.isEmpty }, "one non-empty reference list per output")
        var wrong = 0, edits = 0, length = 0
        for (output, refs) in zip(outputs, references) {
            if !refs.contains(output) { wrong += 1 }
            // The closest reference: fewest edits, then the shorter.
            let (distance, reference) = refs.map { (Self.editDistance(output, $0), $0) }
                .min { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1.count < $1.1.count }!
            edits += distance
            length += reference.count
        }
        count = outputs.count
        referenceTokens = length
        sequenceErrorRate = Double(wrong) / Double(max(count, 1))
        tokenErrorRate = Double(edits) / Double(max(length, 1))
        self.bleu = bleu ? Self.corpusBLEU(outputs: outputs, references: references) : nil
    }

    /// Levenshtein distance: insertions, deletions and substitutions to turn `a` into `b`.
    public static func editDistance<T: Equatable>(_ a: [T], _ b: [T]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count), current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// Corpus BLEU-4 with uniform weights: clipped n-gram precisions summed over the corpus (each
    /// n-gram's count clipped to its largest count in any one reference), their geometric mean, and
    /// the brevity penalty exp(1 − r/c) when the outputs' total length c is below r, the sum of the
    /// reference lengths closest to each output's (the shorter on a tie). Without smoothing: 0 when
    /// some order has no match. This is sacreBLEU's `corpus_score` with `tokenize="none",
    /// smooth_method="none"` (NLTK's `corpus_bleu` differs on outputs shorter than n, whose n-grams it
    /// counts as max(1, 0)).
    public static func corpusBLEU(outputs: [[String]], references: [[[String]]], order: Int = 4) -> Double {
        var matched = [Int](repeating: 0, count: order), total = [Int](repeating: 0, count: order)
        var c = 0, r = 0
        for (output, refs) in zip(outputs, references) {
            c += output.count
            r += refs.map(\.count).min { abs($0 - output.count) != abs($1 - output.count) ? abs($0 - output.count) < abs($1 - output.count) : $0 < $1 }!
            for n in 1...order where output.count >= n {
                let counts = ngrams(output, n)
                var most: [ArraySlice<String>: Int] = [:]
                for ref in refs { for (gram, k) in ngrams(ref, n) { most[gram] = max(most[gram] ?? 0, k) } }
                for (gram, k) in counts { matched[n - 1] += min(k, most[gram] ?? 0) }
                total[n - 1] += output.count - n + 1
            }
        }
        guard c > 0, !matched.contains(0) else { return 0 }
        var logPrecision = 0.0
        for n in 0..<order { logPrecision += Double.log(Double(matched[n]) / Double(total[n])) / Double(order) }
        let brevity = c < r ? Double.exp(1 - Double(r) / Double(c)) : 1
        return brevity * Double.exp(logPrecision)
    }

    private static func ngrams(_ tokens: [String], _ n: Int) -> [ArraySlice<String>: Int] {
        var counts: [ArraySlice<String>: Int] = [:]
        guard tokens.count >= n else { return counts }
        for i in 0...(tokens.count - n) { counts[tokens[i..<(i + n)], default: 0] += 1 }
        return counts
    }
}
