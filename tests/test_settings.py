from assistant.settings import Settings, load_settings, save_settings


def test_settings_round_trip_through_a_toml_file(tmp_path):
    path = tmp_path / "settings.toml"
    mine = Settings(speech=False, rate=210, volume=0.5, voice='en-gb "rp"', watch=["/photos", "C:\\Pictures"])
    save_settings(mine, path)
    assert load_settings(path) == (mine, [])


def test_a_hand_edited_file_with_mistakes_still_starts_with_defaults_where_wrong(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('rate = "fast"\nvolume = 1\ncolour = "blue"\nspeech = false\n')
    settings, warnings = load_settings(path)
    assert settings == Settings(volume=1.0, speech=False)
    assert len(warnings) == 2 and "rate" in warnings[0] and "colour" in warnings[1]
    path.write_text("rate = [unclosed")
    settings, warnings = load_settings(path)
    assert settings == Settings() and "could not be read" in warnings[0]
