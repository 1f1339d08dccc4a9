import pytest

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


@pytest.mark.timeout(30)
def test_saving_through_a_symbolic_link_writes_its_target_and_keeps_the_link(tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "seesay.toml").write_text("rate = 200\n")
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.toml").symlink_to(dotfiles / "seesay.toml")  # as a dotfile manager links it
    (config / "again.toml").symlink_to(config / "settings.toml")  # a link to the link
    mine = Settings(rate=210, watch=["/photos"])
    for name in ("settings.toml", "again.toml"):
        assert save_settings(mine, config / name) == config / name  # replaced the link with a regular file
        assert (config / name).is_symlink() and (config / "settings.toml").is_symlink()
        assert load_settings(dotfiles / "seesay.toml") == (mine, []) == load_settings(config / name)
        mine = Settings(rate=220)
    assert sorted(p.name for p in dotfiles.iterdir()) == ["seesay.toml"]  # no .tmp left beside it


@pytest.mark.timeout(30)
def test_a_dangling_or_looping_settings_link_is_replaced_by_the_saved_file_as_before(tmp_path):
    (tmp_path / "dangling.toml").symlink_to(tmp_path / "nowhere" / "settings.toml")
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.toml").symlink_to(tmp_path / "folder")
    for name in ("dangling.toml", "loop.toml", "folder.toml"):
        assert save_settings(Settings(rate=210), tmp_path / name) == tmp_path / name
        assert not (tmp_path / name).is_symlink() and load_settings(tmp_path / name) == (Settings(rate=210), [])
    assert not (tmp_path / "nowhere").exists() and list((tmp_path / "folder").iterdir()) == []
