"""``kit probe`` (placeholder until written)."""
import click


@click.command()
def probe() -> None:
    """Probe a Modbus device."""
