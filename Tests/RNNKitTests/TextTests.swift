import Foundation
import RNNKit
import Testing

@Suite struct TextTests {
    static let mixed = "这是一个基于tensorflow的RNN短句子练习 — café, naïve 👍🏽 🇫🇷 e\u{301}!\n"

    @Test func vocabularyRoundTripsMixedText() throws {
        let v = Vocabulary(text: Self.mixed)
        let ids = try v.encode(Self.mixed)
        #expect(ids.count == Self.mixed.unicodeScalars.count)
        #expect(v.decode(ids) == Self.mixed)
        #expect(v.count == Set(Self.mixed.unicodeScalars).count)
        // Emoji modifiers and flags are separate scalars: 👍🏽 is 👍 + 🏽.
        #expect(v.characters.contains("👍") && v.characters.contains("\u{1F3FD}"))
        // Stored in config.json and read back.
        let json = try JSONEncoder().encode(v)
        #expect(try JSONDecoder().decode(Vocabulary.self, from: json) == v)
        #expect(Vocabulary(text: "ba") == Vocabulary(text: "ab"), "ids do not depend on order of appearance")
    }

    @Test func unknownCharacterIsAClearError() {
        let v = Vocabulary(text: "hello")
        #expect {
            try v.encode("help", argument: "--prime")
        } throws: { error in
            let message = "\(error)"
            return message.contains("--prime") && message.contains("'p'") && message.contains("U+70") && message.contains("character 3")
        }
    }

    @Test func invalidUTF8AndEmptyFilesAreRejected() throws {
        checkDataError(try TextCorpus.decode([0x61, 0x62, 0xE4, 0xB8, 0x41], path: "poems.txt"), path: "poems.txt",
                        fragments: ["invalid UTF-8 at byte 2", "e4 b8 41", "iconv"])
        checkDataError(try TextCorpus.decode([0xC0, 0x80], path: "x"), path: "x", fragments: ["byte 0"])        // overlong
        checkDataError(try TextCorpus.decode([0xED, 0xA0, 0x80], path: "x"), path: "x", fragments: ["byte 0"])  // surrogate
        checkDataError(try TextCorpus.decode([], path: "x"), path: "x", fragments: ["empty text"])
        #expect(try TextCorpus.decode(Array("好 ok 👍".utf8), path: "x") == "好 ok 👍")
    }

    @Test func ansiEscapesAreStripped() {
        let colored = "\u{1B}[1;31m静夜思\u{1B}[0m\n床前明月光\u{1B}[m"
        #expect(TextCorpus.removingANSIEscapes(colored) == "静夜思\n床前明月光")
    }
}
