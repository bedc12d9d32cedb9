import Foundation
import RNNKit

/// Pairs files: every input either reads into pairs whose sides are non-empty and whose tokens
/// join back into the text of their line (characters), with references grouping every pair, or
/// throws a `DataError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPairs(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    for (source, target) in [(TokenUnit.chars, TokenUnit.chars), (.words, .words)] {
        guard let pairs = try? PairsFile.parse(bytes, path: "fuzz.tsv", source: source, target: target) else { continue }
        precondition(pairs.count > 0 && pairs.sources.allSatisfy { !$0.isEmpty } && pairs.targets.allSatisfy { !$0.isEmpty }, "an empty side")
        precondition(pairs.sources.joined().allSatisfy { !$0.contains("\t") && !$0.contains("\n") }, "a tab or newline inside a token")
        let (distinct, references) = pairs.references()
        precondition(distinct.count == references.count && references.map(\.count).reduce(0, +) <= pairs.count, "references lost")
        let split = pairs.split(validation: 1, test: 1, seed: 0)
        precondition(split.train.count + split.validation.count + split.test.count == pairs.count, "pairs lost in the split")
    }
    return 0
}
