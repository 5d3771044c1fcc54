"""Japanese transcripts: kanji are read through pykakasi (espeak-ng alone says "Chinese letter")."""

from __future__ import annotations

import numpy as np

import visemic
from visemic.phonetics import espeak, japanese
from visemic.phonetics import text as text_mod

KANJI = "電球がともっていた。"
KANA = "でんきゅうがともっていた"


def test_kanji_become_hiragana_words():
    words = japanese.kana_words(KANJI)
    assert "".join(words) == KANA
    assert len(words) >= 2  # unspaced text is split into words
    assert text_mod.normalize("キャンプ、電柱!", "ja") == ["きゃんぷ", "でんちゅう"]


def test_kanji_transcript_aligns_to_kana_speech():
    audio, truth = espeak.synthesize(KANA, "ja")
    res = visemic.animate(audio.samples, text=KANJI, sample_rate=audio.sample_rate,
                          language="ja")
    assert res.timeline.source == "aligned"
    got = [p.symbol for p in res.timeline.phones]
    # What espeak-ng said is what was aligned: same phones (no "tʃaɪniːz letə" per kanji).
    assert got == [p.symbol for p in truth.phones]
    starts = np.array([p.start for p in res.timeline.phones])
    true_starts = np.array([p.start for p in truth.phones])
    assert np.median(np.abs(starts - true_starts)) < 0.04


def test_say_reads_kanji():
    res = visemic.say(KANJI, language="ja")
    kana_res = visemic.say(KANA, language="ja")
    assert [p.symbol for p in res.timeline.phones] == [p.symbol for p in kana_res.timeline.phones]
    assert res.settings["text"] == KANJI


def test_numbers_are_read_with_their_counters():
    # Apart from its numeral, 時 is "toki" and 日 "hi": joined, 3時 is "sanji", 3日 "mikka".
    assert text_mod.normalize("3時に会いましょう", "ja")[0] == "さんじ"
    assert text_mod.normalize("５月３日", "ja") == ["ごがつ", "みっか"]
    assert "".join(text_mod.normalize("1000円です", "ja")) == "せんえんです"
    assert text_mod.normalize("10 meters", "en") == ["ten", "meters"]


def test_a_numerals_last_digit_is_read_with_its_counter():
    # pykakasi splits 二十四 off 年 and reads its 四 as "shi"; joined it is "yo" (yonen).
    assert "".join(text_mod.normalize("2024年", "ja")) == "にせんにじゅうよねん"
    assert "".join(text_mod.normalize("14日", "ja")) == "じゅうよっか"
    assert "".join(text_mod.normalize("19時", "ja")) == "じゅうくじ"
    assert "".join(text_mod.normalize("11本", "ja")) == "じゅういっぽん"
    # Native readings belong to the bare numbers only: 12日 is not "jū-futsuka".
    assert "".join(text_mod.normalize("12日", "ja")) == "じゅうににち"
    assert "".join(text_mod.normalize("11人", "ja")) == "じゅういちにん"


def test_numerals_are_read_as_counted():
    # pykakasi says し and しち (四百 "shihyaku"); counting says よん and なな.
    assert japanese.numeral_reading("四百") == "よんひゃく"
    assert japanese.numeral_reading("七十七") == "ななじゅうなな"
    assert japanese.numeral_reading("三千六百八") == "さんぜんろっぴゃくはち"
    assert japanese.numeral_reading("一億二千万") == "いちおくにせんまん"
    assert japanese.numeral_reading("四年") is None
    assert "".join(text_mod.normalize("400", "ja")) == "よんひゃく"
    # Words that only contain numerals keep their own reading.
    assert "".join(text_mod.normalize("十分です", "ja")) == "じゅうぶんです"
    assert "".join(text_mod.normalize("二十日", "ja")) == "はつか"


def test_kyou_wa_is_today_unless_it_is_the_greeting():
    assert text_mod.normalize("今日はいい天気", "ja")[0] == "きょう"
    words = text_mod.normalize("こんにちは、今日は雨です", "ja")
    assert words[:3] == ["こんにちは", "きょう", "わ"]
    assert text_mod.normalize("今日は。", "ja") == ["こんにちは"]
    assert japanese.kana_text("今日は雨。") == "きょうわあめ。"


def test_particles_are_written_as_said():
    assert japanese.kana_text("私は学校へ行きます。") == "わたしわがっこうえいきます。"
    assert japanese.kana_text("本を読みます。") == "ほんおよみます。"
    # は, へ, を inside words are not particles.
    assert japanese.kana_text("はい、母は花を見た。") == "はい、ははわはなおみた。"
    assert japanese.spoken_particles("東京へようこそ") == "東京えようこそ"


def test_a_line_break_does_not_repeat_a_word():
    text = "電球がともっていた\n"
    assert text_mod.normalize(text, "ja") == ["でんきゅう", "がともっていた"]
    assert japanese.kana_words("一行目です。\n二行目です。\n") == japanese.kana_words(
        "一行目です。二行目です。")
