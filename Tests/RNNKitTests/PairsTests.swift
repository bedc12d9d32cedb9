import Foundation
import RNNKit
import Testing

@Suite struct PairsTests {
    static func parse(_ text: String, _ source: TokenUnit = .chars, _ target: TokenUnit = .words) throws(DataError) -> SequencePairs {
        try PairsFile.parse(Array(text.utf8), path: "pairs.tsv", source: source, target: target)
    }

    /// The error the pairs reader gives for `bytes`, or nil when it accepts them.
    static func refusal(_ bytes: [UInt8]) -> String? {
        do {
            _ = try PairsFile.parse(bytes, path: "pairs.tsv", source: .chars, target: .chars)
            return nil
        } catch { return error.description }
    }

    @Test func readsPairsWithEitherTokens() throws {
        let p = try Self.parse("我英语不好\tmy English is poor\r\n\nGo.\tVe.\tCC-BY 2.0 (France) Attribution: tatoeba.org\n  \nab c\t x  y \n我英语不好\tmy English is bad\n")
        #expect(p.count == 4)
        #expect(p.sources[0] == ["我", "英", "语", "不", "好"])
        #expect(p.targets[0] == ["my", "English", "is", "poor"])
        #expect(p.targets[1] == ["Ve."], "the third column is ignored")
        #expect(p.sources[2] == ["a", "b", " ", "c"], "characters keep inner spaces; the ends are trimmed")
        #expect(p.targets[2] == ["x", "y"])
        let (sources, references) = p.references()
        #expect(sources.count == 3)
        #expect(references[0] == [["my", "English", "is", "poor"], ["my", "English", "is", "bad"]])
        #expect(TokenUnit.words.join(p.targets[0]) == "my English is poor")
        #expect(TokenUnit.chars.join(p.sources[0]) == "我英语不好")
        let words = try Self.parse("a b\tc\n", .words, .chars)
        #expect(words.sources[0] == ["a", "b"] && words.targets[0] == ["c"])
    }

    @Test func refusesMalformedPairs() {
        let cases: [([UInt8], [String])] = [
            (Array("ok\tfine\nno tab here\n".utf8), ["line 2 has no tab", "source<TAB>target", "'no tab here'"]),
            (Array("ok\tfine\n\tmissing source\n".utf8), ["line 2 has an empty source"]),
            (Array("ok\t  \n".utf8), ["line 1 has an empty target"]),
            (Array("ok\tfine\n".utf8) + [0x61, 0x09, 0xC3, 0x28, 0x0A], ["invalid UTF-8 on line 2, at byte 10", "c3 28", "iconv"]),
            (Array("a\t".utf8) + [UInt8](repeating: 0x62, count: 1 << 20) + [10], ["line 1 is too long", "1048578 bytes", "65536"]),
            (Array("\n\n \n".utf8), ["no pairs", "3 blank line(s)"]),
            ([], ["no pairs"]),
        ]
        for (bytes, parts) in cases {
            let message = Self.refusal(bytes)
            #expect(message != nil, "accepted: \(parts)")
            for part in parts { #expect(message?.contains(part) == true, "«\(part)» in \(message ?? "nothing")") }
            #expect(message?.hasPrefix("pairs.tsv") == true)
        }
    }

    @Test func splitsBySourceWithASeed() throws {
        let p = try Self.parse((0..<50).map { "w\($0 % 20)\tt\($0)" }.joined(separator: "\n"))
        let (train, validation, test) = p.split(validation: 3, test: 4, seed: 7)
        #expect(Set(validation.sources).count == 3 && Set(test.sources).count == 4 && Set(train.sources).count == 13)
        #expect(train.count + validation.count + test.count == 50)
        #expect(Set(train.sources).isDisjoint(with: Set(test.sources)) && Set(train.sources).isDisjoint(with: Set(validation.sources)))
        #expect(Set(validation.sources).isDisjoint(with: Set(test.sources)))
        let again = p.split(validation: 3, test: 4, seed: 7), other = p.split(validation: 3, test: 4, seed: 8)
        #expect(again.test == test)
        #expect(other.test != test)
    }

    /// Lines of Debian festlex-cmu's cmudict-0.4.out as they are.
    static let festival = """
        MNCL
        ("a" dt (((ax) 0)))
        ("a" n (((ey) 1)))
        ("aaberg" nil (((aa) 1) ((b er g) 0)))
        ("aardvark" nil (((aa r d) 1) ((v aa r k) 1)))
        ("abbreviate" v (((ax) 0) ((b r iy) 1) ((v iy) 0) ((ey t) 1)))

        """

    @Test func readsFestivalLexicons() throws {
        let entries = try Lexicon.parse(Array(Self.festival.utf8), path: "cmudict-0.4.out")
        #expect(entries.count == 5)
        #expect(entries[2] == Lexicon.Entry(word: "aaberg", phones: ["aa1", "b", "er0", "g"]))
        #expect(entries[4].phones == ["ax0", "b", "r", "iy1", "v", "iy0", "ey1", "t"])
        let pairs = Lexicon.pairs(entries, stress: false)
        #expect(pairs.sources[3] == ["a", "a", "r", "d", "v", "a", "r", "k"])
        #expect(pairs.targets[3] == ["aa", "r", "d", "v", "aa", "r", "k"])
        #expect(pairs.references().references[0] == [["ax"], ["ey"]], "a word with two entries has two references")
        #expect(Lexicon.pairs(entries, stress: true).targets[1] == ["ey1"])
    }

    @Test func readsPlainCMUDictionaries() throws {
        let text = ";;; # CMUdict  --  Major Version: 0.07\nWORD  W ER1 D\nWORD(2)  W ER0 D\nread R EH1 D # past tense\nO'BRIEN  OW0 B R AY1 AH0 N\n"
        let entries = try Lexicon.parse(Array(text.utf8), path: "cmudict.dict")
        #expect(entries == [Lexicon.Entry(word: "word", phones: ["w", "er1", "d"]), Lexicon.Entry(word: "word", phones: ["w", "er0", "d"]),
                            Lexicon.Entry(word: "read", phones: ["r", "eh1", "d"]),
                            Lexicon.Entry(word: "o'brien", phones: ["ow0", "b", "r", "ay1", "ah0", "n"])])
        #expect(Lexicon.pairs(entries, stress: false).targets[0] == ["w", "er", "d"])
    }

    @Test func refusesMalformedLexicons() {
        let cases: [(String, [String])] = [
            ("(\"a\" dt (((ax) 0)))\n(\"b dt (((b iy) 1)))\n", ["line 2: unterminated string"]),
            ("(\"a\" dt (((ax) 0)))\n(\"b\" nil (((b iy) 7)))\n", ["line 2: a syllable's stress is not 0, 1 or 2"]),
            ("(\"a\" dt (((ax) 0)))\n(\"b\" nil (((b iy) 1))\n", ["line 2: expected ')'"]),
            ("(\"a\" dt (((ax) 0)))\n(\"b\" nil ())\n", ["line 2: no phones"]),
            ("(\"a\" dt (((ax) 0))) extra\n", ["line 1: text after the entry"]),
            ("(\"a\" dt ((((ax)) 0)))\n", ["line 1: '(' is not a phone"]),
            ("WORD  W ER1 D\nLONELY\n", ["line 2: a word without phones"]),
            ("WORD  W ER1 D\nBAD  W @@ D\n", ["line 2: '@@' is not a phone"]),
            (";;; only comments\n\n", ["no entries"]),
        ]
        for (text, parts) in cases {
            do {
                _ = try Lexicon.parse(Array(text.utf8), path: "lexicon")
                Issue.record("accepted: \(text)")
            } catch {
                for part in parts { #expect(error.description.contains(part), "«\(part)» in \(error)") }
            }
        }
        do {
            _ = try Lexicon.parse([0x57, 0xFF, 0x20, 0x57], path: "lexicon")
            Issue.record("accepted invalid UTF-8")
        } catch { #expect(error.description.contains("invalid UTF-8 at byte 1")) }
    }

    @Test func readsCoupletsFromFortunePoems() {
        let text = "\u{1B}[32m《感遇二首之一》\u{1B}[m\n\u{1B}[33m作者：张九龄\u{1B}[m\n兰叶春葳蕤，桂华秋皎洁。\n欣欣此生意，自尔为佳节。\n谁知林栖者？\n%\n\u{1B}[32m《静夜思》\u{1B}[m\n床前明月光，疑是地上霜。\n"
        let pairs = Couplets.parse(TextCorpus.removingANSIEscapes(text))
        #expect(pairs.count == 3)
        #expect(pairs.sources.map { $0.joined() } == ["兰叶春葳蕤", "欣欣此生意", "床前明月光"])
        #expect(pairs.targets.map { $0.joined() } == ["桂华秋皎洁", "自尔为佳节", "疑是地上霜"])
    }

    @Test func generatesKerasAdditionProblems() {
        let a = AdditionProblems.generate(count: 2000, seed: 4)
        #expect(a.count == 2000)
        #expect(a == AdditionProblems.generate(count: 2000, seed: 4))
        #expect(a != AdditionProblems.generate(count: 2000, seed: 5))
        var seen = Set<[Int]>()
        for (source, target) in zip(a.sources, a.targets) {
            let operands = source.joined().split(separator: "+").compactMap { Int($0) }
            #expect(operands.count == 2 && operands.allSatisfy { (0...999).contains($0) }, "\(source)")
            #expect(Int(target.joined()) == operands.reduce(0, +))
            #expect(seen.insert(operands.sorted()).inserted, "a pair twice: \(source)")
        }
        #expect(a.sources.contains { $0.count == 3 } && a.sources.contains { $0.count == 7 }, "operands of 1 to 3 digits")
        #expect(AdditionProblems.generate(count: 100, digits: 1, seed: 0).count == 55, "only 55 distinct pairs of single digits")
    }

    @Test func tokenVocabularyRoundTripsAndNamesUnknownTokens() throws {
        let pairs = try Self.parse("我英语不好\tmy English is poor\n你好\thello\n", .chars, .words)
        let source = TokenVocabulary(sequences: pairs.sources), target = TokenVocabulary(sequences: pairs.targets)
        #expect(Array(source.tokens.prefix(3)) == ["<pad>", "<s>", "</s>"])
        #expect(source.count == 3 + 6 && target.count == 3 + 5, "好 appears twice")
        let ids = try source.encode(pairs.sources[0], place: "line 1")
        #expect(ids.allSatisfy { $0 > TokenVocabulary.end })
        #expect(source.decode(ids + [TokenVocabulary.end, ids[0]]) == pairs.sources[0], "decoding stops at the end token")
        #expect(source.decode([TokenVocabulary.start] + ids + [0, 0]) == pairs.sources[0])
        do {
            _ = try source.encode(TokenUnit.chars.tokens("你好吗"), place: "the input")
            Issue.record("an unknown character was accepted")
        } catch {
            #expect(error.description.contains("'吗' (U+5417) at token 3 of the input"), "\(error)")
        }
        #expect(throws: RNNKitError.self) { try target.encode(["</s>"], place: "line 1") }
        let saved = try JSONEncoder().encode(target)
        #expect(try JSONDecoder().decode(TokenVocabulary.self, from: saved) == target)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TokenVocabulary.self, from: Data(#"["a", "<s>", "</s>"]"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TokenVocabulary.self, from: Data(#"["<pad>", "<s>", "</s>", "x", "x"]"#.utf8)) }
    }

    /// Against NLTK's edit distance and sacreBLEU's corpus BLEU (Fixtures/make_score_fixtures.py).
    @Test func scoresMatchSacreBLEUAndNLTK() throws {
        struct Case: Decodable {
            var outputs: [[String]], references: [[[String]]], distances: [Int]
            var sequence_error_rate: Double, token_error_rate: Double, bleu: Double
        }
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: fixtureURL("score_fixtures.json")))
        #expect(cases.count == 4)
        for c in cases {
            let s = SequenceScores(outputs: c.outputs, references: c.references, bleu: true)
            #expect(abs(s.sequenceErrorRate - c.sequence_error_rate) < 1e-12)
            #expect(abs(s.tokenErrorRate - c.token_error_rate) < 1e-12)
            #expect(abs(try #require(s.bleu) - c.bleu) < 1e-12, "BLEU \(s.bleu ?? -1) vs sacreBLEU \(c.bleu)")
            #expect(zip(c.outputs, c.references).map { SequenceScores.editDistance($0, $1[0]) } == c.distances)
        }
        let perfect = SequenceScores(outputs: [["a", "b", "c", "d"]], references: [[["a", "b", "c", "d"]]], bleu: true)
        #expect(perfect.sequenceErrorRate == 0 && perfect.tokenErrorRate == 0 && perfect.bleu == 1)
        #expect(SequenceScores(outputs: [["x"]], references: [[["a"]]], bleu: false).bleu == nil)
    }
}
