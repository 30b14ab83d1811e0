"""Container names: validation and Docker-style generated names (adjective_scientist)."""

from __future__ import annotations

import re
import secrets

from dockyard import errors

__all__ = ["validate_name", "generate_name"]

_VALID = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_ADJECTIVES = (
    "admiring adoring affectionate agitated amazing angry awesome beautiful blissful bold boring brave "
    "busy charming clever compassionate competent condescending confident cool cranky crazy dazzling "
    "determined distracted dreamy eager ecstatic elastic elated elegant eloquent epic exciting fervent "
    "festive flamboyant focused friendly frosty funny gallant gifted goofy gracious great happy hardcore "
    "heuristic hopeful hungry infallible inspiring intelligent interesting jolly jovial keen kind laughing "
    "loving lucid magical modest musing mystifying naughty nervous nice nifty nostalgic objective "
    "optimistic peaceful pedantic pensive practical priceless quirky quizzical recursing relaxed "
    "reverent romantic sad serene sharp silly sleepy stoic strange stupefied suspicious sweet tender "
    "thirsty trusting unruffled upbeat vibrant vigilant vigorous wizardly wonderful xenodochial youthful "
    "zealous zen"
).split()

# People of science and engineering, as Docker's generator also honours.
_SURNAMES = (
    "agnesi albattani allen almeida antonelli archimedes ardinghelli aryabhata austin babbage banach "
    "bardeen bartik bassi beaver bell benz bhabha bhaskara blackburn blackwell bohr booth borg bose "
    "boyd brahmagupta brattain brown buck burnell cannon carson cartwright carver cerf chandrasekhar "
    "chaplygin chatelet chatterjee chebyshev cohen colden cori cray curie darwin davinci dewdney dhawan "
    "diffie dijkstra dirac driscoll dubinsky easley edison einstein elbakyan elgamal elion ellis "
    "engelbart euclid euler faraday feistel fermat fermi feynman franklin gagarin galileo galois "
    "ganguly gates gauss germain goldberg goldstine goldwasser golick goodall gould greider grothendieck "
    "haibt hamilton haslett hawking heisenberg hellman hermann herschel hertz heyrovsky hodgkin "
    "hofstadter hoover hopper hugle hypatia ishizaka jackson jang jemison jennings jepsen johnson "
    "joliot jones kalam kapitsa kare keldysh keller kepler khayyam khorana kilby kirch knuth "
    "kowalevski lalande lamarr lamport leakey leavitt lederberg lehmann lewin lichterman liskov "
    "lovelace lumiere mahavira margulis matsumoto maxwell mayer mccarthy mcclintock mclaren mclean "
    "mcnulty meitner mendel mendeleev meninsky merkle mestorf mirzakhani montalcini moore morse moser "
    "murdock napier nash neumann newton nightingale nobel noether northcutt noyce panini pare pascal "
    "pasteur payne perlman pike poincare poitras proskuriakova ptolemy raman ramanujan rhodes ride "
    "ritchie robinson roentgen rosalind rubin saha sammet sanderson satoshi shamir shannon shaw "
    "shirley shockley shtern sinoussi snyder solomon spence stonebraker sutherland swanson swartz "
    "swirles taussig tesla tharp thompson torvalds tu turing varahamihira vaughan villani visvesvaraya "
    "volhard wescoff wilbur wiles williams williamson wilson wing wozniak wright wu yalow yonath zhukovsky"
).split()


def validate_name(name: str) -> str:
    """Return the name without a leading slash, or raise Docker's error."""
    if not _VALID.match(name):
        raise errors.InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


def generate_name(taken: set[str]) -> str:
    for attempt in range(64):
        name = f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_SURNAMES)}"
        if attempt > 8:
            name += str(secrets.randbelow(10))
        if name not in taken and name != "boring_wozniak":  # Docker's tradition: never this one
            return name
    return f"container_{secrets.token_hex(4)}"
