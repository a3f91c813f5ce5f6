"""The engine setting the blogger's guide shows is read as the engine it names."""

from pathlib import Path

from blogtools import manifest, project

HERE = Path(__file__).parent


def test_the_engine_line_picks_zensical(tmp_path):
    text = (HERE / manifest.read(HERE.parent)["guides-blogger/06"].file).read_text()
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nsite_url: https://example.org/\n" + text)
    site = project.load(tmp_path / "mkdocs.yml")
    assert site.engine == "zensical" and site.engine in project.ENGINES
