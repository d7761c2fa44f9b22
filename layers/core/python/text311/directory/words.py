"""Word lists the resolver reads (normalised forms, English and French).

FILLER      words around a place name that do not make the text a request:
            "I'm in …", "je suis à …", "hi, it's …".
NOT_ALONE   whole answers that are not a place even where a place has that name
            ('Okay', Oklahoma; 'Why', Arizona; 'Start', Louisiana): such a name needs a
            province or state beside it ('Why AZ').
COMMON      everyday words that are also place names ('Mobile', 'Surprise', 'Hope',
            'Independence', 'Spring'). Inside a longer message (a request) a lone common
            word is never taken for a place; as the whole answer it is.
REQUEST     words of a 311 request: a short text that contains one is not a misspelt
            place name, so no typo matching is tried on it.
STREET_*    words that make a place name a street ('Kingston Rd', 'rue Sherbrooke').
LOCATIVE    words that introduce a place ('in', 'à', 'from').
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FILLER = _words(
    """
    i m im am in at from the of city town township village municipality my is its it s we are
    live living located based near here hi hello hey good morning afternoon evening thanks thank
    you please yes ok okay sure um uh currently and or this a an to on
    there our ur u id like re ve ll t want would be been call called name named
    je j suis habite habitons reste demeure vis vit a au aux en dans de du des d la le les l ville
    municipalite paroisse canton ma mon c cest est ici bonjour bonsoir salut allo merci oui svp stp
    pres on nous sommes moi ca et ou qui que se trouve
    """
)

NOT_ALONE = _words(
    """
    yes no ok okay k yep yeah nope sure stop start unstop help info aide arret cancel end quit
    oui non merci thanks thank hi hello hey bonjour salut allo test home here ici why what who how
    where when huh idk nothing none nowhere unknown maybe please fine good great
    """
)

COMMON = NOT_ALONE | _words(
    """
    mobile surprise spring independence orange concord providence deal bell hazard sunrise plain
    enterprise liberty justice commerce industry energy paradise eden victory unity harmony comfort
    hurricane tornado canyon beach bay harbor center centre union king queen prince mission pine
    oak elm maple cedar birch willow spruce ash park lake river hill hills mountain valley forest
    grove garden gardens market bridge mill mills spring springs water station church school
    library hospital college university airport mall plaza main high front middle north south
    east west central new old long short big little green white black brown red blue gold silver
    rock stone iron cliff bluff ridge point port harbour island bank banks cross corner corners
    falls lakes river rivers creek brook glen dale meadow field fields view summit crest heights
    friday sunday monday christmas easter joy hope faith grace mercy charity patience temperance
    bliss paradise nice fair pleasant normal ordinary boring nothing why how what who speed power
    friendship freedom equality progress opportunity success reform economy hazard security
    republic nation federal capitol capital royal regent crown garbage trash light lights snow
    tree trees noise dog cat fire police post office home house school bus stop road street avenue
    bonne belle grand grande petit petite mont lac riviere pont ile port cote
    """
)

REQUEST = _words(
    """
    pothole potholes garbage trash recycling recycle compost bin bins snow plow plowing ice light
    lights streetlight streetlights lamp noise water leak leaking flood flooding sewer drain tree
    trees branch dog dogs cat animal parking parked car cars sidewalk road roads street streets
    avenue broken missing collection collected pickup graffiti fire smoke smell rat rats bug bugs
    complaint problem issue report request permit tax taxes bill fine ticket sign signal traffic
    hole crack cracked damage damaged dead stuck blocked closed open lost found help urgent
    nid nids poule poules ordures dechets poubelle bac bacs recyclage neige deneigement glace
    lampadaire lumiere bruit eau fuite inondation egout arbre arbres chien chat stationnement
    auto voiture trottoir rue chemin route brise casse manquant collecte plainte probleme
    demande permis taxe compte amende feu fumee odeur trou fissure bloque ferme ouvert perdu
    """
)

STREET_AFTER = _words(
    """
    st street ave av avenue rd road blvd boulevard dr drive ln lane way court cres crescent
    hwy highway pkwy parkway ter terrace trail trl cir circle sq square pike tpke turnpike expy
    expressway fwy freeway row alley
    """
)
STREET_BEFORE = _words("rue chemin ch boulevard boul blvd avenue av ave rang route rte montee autoroute")

LOCATIVE = _words("in at from a au aux dans en of de")
