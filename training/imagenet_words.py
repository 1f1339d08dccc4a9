"""Writes model/data/imagenet_words.json: the 1,000 ImageNet-1k classes grouped into the words a person would use.

    python -m training.imagenet_words

Run once; the file ships with seesay so that recognition never imports torchvision (cold start). Class
names and their order come from torchvision's EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"]
(the standard ILSVRC-2012 order, with the short English names torchvision uses). The grouping below is
ours: WordNet-order index ranges for the animals (all 120 dog breeds are one "dog"), and hand-picked
groups for the objects a caption or a person would name. A class in no group is its own group, named by
its torchvision name.

Each group: name (its key), say (the spoken phrase), words (what captions and references call it; the
describer and the calibration match text against these, singular forms), kind, classes (indices).
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "model" / "data" / "imagenet_words.json"


def _r(lo: int, hi: int) -> list[int]:
    return list(range(lo, hi + 1))


# name: (say, words, kind, classes as indices or torchvision names)
GROUPS: dict[str, tuple[str, list[str], str, list]] = {
    "dog": ("a dog", ["dog", "puppy", "pup", "hound", "doggy", "terrier", "poodle", "retriever", "collie",
                      "spaniel", "dalmatian", "beagle", "labrador", "husky", "bulldog", "pug", "chihuahua",
                      "greyhound", "german shepherd", "sheepdog", "dachshund", "rottweiler", "doberman",
                      "pointer", "setter", "schnauzer", "mastiff"], "animal", _r(151, 268)),
    "wolf": ("a wolf", ["wolf", "coyote", "dingo"], "animal", _r(269, 275)),
    "hyena": ("a hyena", ["hyena"], "animal", [276]),
    "fox": ("a fox", ["fox"], "animal", _r(277, 280)),
    "cat": ("a cat", ["cat", "kitten", "kitty", "tabby"], "animal", _r(281, 285)),
    "big cat": ("a big cat", ["lion", "tiger", "leopard", "cheetah", "jaguar", "cougar", "lynx", "puma",
                              "panther", "lioness"], "animal", _r(286, 293)),
    "bear": ("a bear", ["bear", "polar bear", "teddy bear"], "animal", _r(294, 297)),
    "bird": ("a bird", ["bird", "chicken", "hen", "rooster", "duck", "goose", "swan", "owl", "eagle",
                        "pigeon", "seagull", "gull", "parrot", "penguin", "pelican", "flamingo", "heron",
                        "stork", "crane", "peacock", "ostrich", "robin", "finch", "sparrow", "vulture",
                        "hawk", "hummingbird", "toucan", "egret", "sandpiper", "turkey"], "animal",
             _r(7, 24) + _r(80, 100) + _r(127, 146)),
    "fish": ("a fish", ["fish", "shark", "goldfish", "stingray", "eel"], "animal", _r(0, 6) + _r(389, 397)),
    "frog": ("a frog", ["frog", "toad", "salamander", "newt"], "animal", _r(25, 32)),
    "turtle": ("a turtle", ["turtle", "tortoise"], "animal", _r(33, 37)),
    "lizard": ("a lizard", ["lizard", "iguana", "gecko", "chameleon", "crocodile", "alligator"], "animal",
               _r(38, 50)),
    "snake": ("a snake", ["snake", "python", "cobra"], "animal", _r(52, 68)),
    "spider": ("a spider", ["spider", "tarantula", "scorpion"], "animal", _r(70, 77)),
    "crab": ("a crab", ["crab", "lobster", "crayfish"], "animal", _r(118, 125)),
    "snail": ("a snail", ["snail", "slug"], "animal", _r(112, 117)),
    "insect": ("an insect", ["insect", "bug", "beetle", "ladybug", "fly", "bee", "ant", "grasshopper",
                             "cricket", "dragonfly", "mantis", "cockroach"], "animal", _r(300, 320)),
    "butterfly": ("a butterfly", ["butterfly", "moth"], "animal", _r(321, 326)),
    "rabbit": ("a rabbit", ["rabbit", "bunny", "hare"], "animal", _r(330, 332)),
    "rodent": ("a small animal", ["hamster", "squirrel", "guinea pig", "rat", "mouse", "beaver",
                                  "chipmunk", "marmot", "porcupine"], "animal", _r(333, 338)),
    "horse": ("a horse", ["horse", "pony", "foal", "stallion", "mare"], "animal", ["sorrel"]),
    "zebra": ("a zebra", ["zebra"], "animal", ["zebra"]),
    "pig": ("a pig", ["pig", "hog", "boar", "warthog"], "animal", _r(341, 343)),
    "cow": ("a cow", ["cow", "cattle", "ox", "bull", "calf", "buffalo", "bison", "steer"], "animal", _r(345, 347)),
    "sheep": ("a sheep or goat", ["sheep", "ram", "lamb", "goat", "ibex"], "animal", _r(348, 350)),
    "antelope": ("an antelope", ["antelope", "gazelle", "impala", "deer"], "animal", _r(351, 353)),
    "camel": ("a camel", ["camel", "llama"], "animal", [354, 355]),
    "monkey": ("a monkey", ["monkey", "ape", "gorilla", "chimpanzee", "chimp", "baboon", "orangutan",
                            "lemur"], "animal", _r(365, 384)),
    "elephant": ("an elephant", ["elephant"], "animal", [101, 385, 386]),
    "panda": ("a panda", ["panda"], "animal", [387, 388]),
    "whale": ("a whale", ["whale", "orca", "dolphin"], "animal", [147, 148]),
    "seal": ("a seal", ["seal", "sea lion", "walrus"], "animal", [149, 150]),
    "marsupial": ("a kangaroo or koala", ["kangaroo", "wallaby", "koala", "wombat"], "animal", _r(104, 106)),
    "small mammal": ("a small animal", ["weasel", "ferret", "otter", "skunk", "badger", "mongoose",
                                        "meerkat", "armadillo", "sloth", "mink"], "animal",
                     [298, 299] + _r(356, 364)),
    "jellyfish": ("a jellyfish", ["jellyfish"], "animal", [107]),
    "starfish": ("a starfish", ["starfish", "sea star"], "animal", [327]),
    "sea urchin": ("a sea urchin", ["urchin"], "animal", [328]),
    "person": ("a person", ["person", "man", "woman", "boy", "girl", "child", "kid", "people", "player",
                            "groom", "diver"], "person", ["ballplayer", "groom", "scuba diver"]),
    # vehicles
    "car": ("a car", ["car", "taxi", "cab", "jeep", "suv", "limousine", "van", "minivan", "convertible",
                      "vehicle", "automobile"],
            "vehicle", ["beach wagon", "cab", "convertible", "jeep", "limousine", "minivan", "Model T", "racer",
                        "sports car", "police van", "ambulance", "car wheel", "grille", "car mirror"]),
    "bus": ("a bus", ["bus", "trolley"], "vehicle", ["minibus", "school bus", "trolleybus"]),
    "truck": ("a truck", ["truck", "lorry", "pickup", "van", "fire engine", "fire truck"], "vehicle",
              ["fire engine", "garbage truck", "moving van", "pickup", "tow truck", "trailer truck",
               "recreational vehicle", "mobile home"]),
    "train": ("a train", ["train", "locomotive", "tram", "streetcar", "railway", "subway"], "vehicle",
              ["bullet train", "electric locomotive", "freight car", "passenger car", "steam locomotive",
               "streetcar"]),
    "boat": ("a boat", ["boat", "ship", "canoe", "kayak", "sailboat", "yacht", "raft", "ferry", "gondola"],
             "vehicle", ["canoe", "catamaran", "container ship", "fireboat", "gondola", "lifeboat", "liner",
                         "paddlewheel", "pirate", "schooner", "speedboat", "trimaran", "yawl", "aircraft carrier",
                         "submarine", "wreck", "amphibian", "paddle"]),
    "airplane": ("an airplane", ["airplane", "plane", "jet", "aircraft", "airliner", "aeroplane"], "vehicle",
                 ["airliner", "warplane", "wing", "airship", "space shuttle"]),
    "bicycle": ("a bicycle", ["bicycle", "bike", "tricycle", "unicycle", "cycle"], "vehicle",
                ["bicycle-built-for-two", "mountain bike", "tricycle", "unicycle"]),
    "scooter": ("a scooter", ["scooter", "moped", "motorcycle", "motorbike"], "vehicle",
                ["moped", "motor scooter"]),
    "tractor": ("a tractor", ["tractor"], "vehicle", ["tractor", "harvester", "thresher", "plow"]),
    "cart": ("a cart", ["cart", "wagon", "carriage", "rickshaw"], "vehicle",
             ["horse cart", "oxcart", "jinrikisha", "barrow", "shopping cart"]),
    "snowmobile": ("a snowmobile", ["snowmobile", "sled", "sleigh"], "vehicle",
                   ["snowmobile", "dogsled", "bobsled", "snowplow"]),
    # food and drink
    "coffee": ("a cup of coffee", ["coffee", "espresso", "cappuccino", "latte", "cup", "mug"], "food",
               ["espresso", "cup", "coffee mug", "eggnog"]),
    "wine": ("wine", ["wine", "glass", "wineglass"], "food", ["red wine", "goblet"]),
    "citrus": ("citrus fruit", ["orange", "lemon", "lime", "citrus", "fruit", "tangerine", "grapefruit"], "food",
               ["orange", "lemon"]),
    "apple": ("an apple", ["apple", "fruit"], "food", ["Granny Smith"]),
    "banana": ("a banana", ["banana", "fruit"], "food", ["banana"]),
    "strawberry": ("strawberries", ["strawberry", "berry", "fruit"], "food", ["strawberry"]),
    "pineapple": ("a pineapple", ["pineapple", "fruit"], "food", ["pineapple"]),
    "fruit": ("fruit", ["fruit", "fig", "pomegranate"], "food",
              ["fig", "jackfruit", "custard apple", "pomegranate"]),
    "vegetable": ("vegetables", ["vegetable", "broccoli", "cauliflower", "cabbage", "zucchini", "squash",
                                 "cucumber", "pepper", "artichoke", "pumpkin", "veggie", "salad"], "food",
                  ["head cabbage", "broccoli", "cauliflower", "zucchini", "spaghetti squash", "acorn squash",
                   "butternut squash", "cucumber", "artichoke", "bell pepper", "cardoon"]),
    "corn": ("corn", ["corn"], "food", ["corn", "ear"]),
    "mushroom": ("a mushroom", ["mushroom", "fungus"], "food",
                 ["mushroom", "agaric", "gyromitra", "stinkhorn", "earthstar", "hen-of-the-woods", "bolete",
                  "coral fungus"]),
    "pizza": ("a pizza", ["pizza"], "food", ["pizza"]),
    "sandwich": ("a sandwich", ["sandwich", "burger", "hamburger", "cheeseburger", "hot dog", "hotdog",
                                "burrito", "wrap"], "food", ["cheeseburger", "hotdog", "burrito"]),
    "bread": ("bread", ["bread", "bagel", "pretzel", "loaf", "baguette", "dough"], "food",
              ["French loaf", "bagel", "pretzel", "dough"]),
    "cake": ("a dessert", ["cake", "dessert", "ice cream", "trifle", "pie", "pudding", "popsicle"], "food",
             ["trifle", "ice cream", "ice lolly", "chocolate sauce"]),
    "meal": ("a plate of food", ["food", "meal", "dish", "plate", "pasta", "soup", "rice", "meat", "dinner",
                                 "lunch", "stew"], "food",
             ["guacamole", "consomme", "hot pot", "mashed potato", "carbonara", "meat loaf", "potpie", "plate"]),
    "bowl": ("a bowl", ["bowl"], "food", ["mixing bowl", "soup bowl"]),
    "bottle": ("a bottle", ["bottle"], "thing", ["beer bottle", "pop bottle", "water bottle", "wine bottle",
                                                  "pill bottle", "whiskey jug", "water jug"]),
    "beer": ("a glass of beer", ["beer", "glass"], "food", ["beer glass"]),
    # furniture and household
    "chair": ("a chair", ["chair", "seat", "stool"], "thing",
              ["barber chair", "folding chair", "rocking chair", "throne"]),
    "bench": ("a bench", ["bench"], "thing", ["park bench"]),
    "couch": ("a couch", ["couch", "sofa"], "thing", ["studio couch"]),
    "bed": ("a bed", ["bed", "crib", "cradle"], "thing", ["four-poster", "crib", "cradle", "bassinet", "quilt",
                                                            "pillow", "sleeping bag"]),
    "table": ("a table", ["table", "desk"], "thing", ["dining table", "desk", "pool table"]),
    "computer": ("a computer", ["computer", "laptop", "keyboard", "monitor", "screen", "mouse"], "thing",
                 ["desktop computer", "laptop", "notebook", "computer keyboard", "monitor", "screen", "mouse",
                  "space bar", "hand-held computer", "typewriter keyboard", "web site", "modem"]),
    "television": ("a television", ["television", "tv", "screen"], "thing", ["television", "home theater",
                                                                            "entertainment center"]),
    "phone": ("a phone", ["phone", "cellphone", "telephone", "smartphone"], "thing",
              ["cellular telephone", "dial telephone", "pay-phone", "iPod"]),
    "clock": ("a clock", ["clock", "watch"], "thing", ["analog clock", "digital clock", "wall clock",
                                                         "digital watch", "stopwatch"]),
    "book": ("a book", ["book", "magazine", "menu"], "thing",
             ["book jacket", "comic book", "binder", "menu", "crossword puzzle"]),
    "bookcase": ("a bookcase", ["bookcase", "bookshelf", "shelf", "library"], "thing", ["bookcase", "library",
                                                                                        "bookshop"]),
    "lamp": ("a lamp", ["lamp", "light"], "thing", ["table lamp", "lampshade", "spotlight"]),
    "umbrella": ("an umbrella", ["umbrella", "parasol"], "thing", ["umbrella"]),
    "bag": ("a bag", ["bag", "backpack", "purse", "handbag", "suitcase"], "thing",
            ["backpack", "purse", "mailbag", "plastic bag", "wallet"]),
    "kitchen": ("a kitchen appliance", ["kitchen", "refrigerator", "fridge", "microwave", "oven", "stove",
                                        "toaster", "dishwasher"], "thing",
                ["refrigerator", "microwave", "stove", "toaster", "dishwasher", "espresso maker", "Crock Pot",
                 "Dutch oven", "waffle iron", "rotisserie", "washer", "coffeepot", "teapot"]),
    "pan": ("a pan", ["pan", "pot", "wok", "kettle"], "thing", ["frying pan", "wok", "caldron", "pot"]),
    "sink": ("a sink", ["sink", "basin"], "thing", ["washbasin"]),
    "toilet": ("a toilet", ["toilet", "bathroom"], "thing", ["toilet seat", "toilet tissue", "plunger"]),
    "bathtub": ("a bathtub", ["bathtub", "tub", "bath"], "thing", ["bathtub", "tub", "shower curtain"]),
    "vase": ("a vase", ["vase", "flower"], "thing", ["vase"]),
    "teddy bear": ("a teddy bear", ["teddy bear", "teddy", "stuffed animal", "toy"], "thing", ["teddy"]),
    # sport
    "ball": ("a ball", ["ball", "football", "soccer ball", "basketball", "baseball", "tennis ball",
                        "volleyball", "golf ball", "rugby ball"], "thing",
             ["soccer ball", "basketball", "baseball", "tennis ball", "volleyball", "golf ball", "rugby ball",
              "croquet ball", "ping-pong ball", "puck"]),
    "racket": ("a racket", ["racket", "racquet"], "thing", ["racket"]),
    "ski": ("skis", ["ski", "skis", "skier"], "thing", ["ski"]),
    "helmet": ("a helmet", ["helmet"], "thing", ["crash helmet", "football helmet"]),
    "swing": ("a swing", ["swing"], "thing", ["swing"]),
    # clothing: the describer may use these as evidence of a person
    "clothing": ("clothing", ["shirt", "jersey", "suit", "dress", "coat", "jacket", "uniform", "sweatshirt",
                              "jeans", "skirt", "gown", "kimono", "bikini", "swimsuit", "apron", "tie",
                              "hat", "sunglasses", "glasses"], "clothing",
                 ["abaya", "academic gown", "apron", "bikini", "bow tie", "bolo tie", "brassiere", "cardigan",
                  "cloak", "fur coat", "gown", "hoopskirt", "jean", "jersey", "kimono", "lab coat", "maillot",
                  "maillot tank suit", "military uniform", "miniskirt", "overskirt", "pajama", "poncho",
                  "sarong", "stole", "suit", "sweatshirt", "swimming trunks", "trench coat", "vestment",
                  "Windsor tie", "feather boa", "bulletproof vest", "wig", "sunglass", "sunglasses",
                  "cowboy hat", "sombrero", "bonnet", "bathing cap", "shower cap", "mortarboard", "ski mask",
                  "bearskin", "pickelhaube", "sock", "Christmas stocking", "running shoe", "cowboy boot",
                  "Loafer", "clog", "sandal", "knee pad", "neck brace", "bib", "diaper", "necklace", "mask",
                  "gasmask", "oxygen mask", "chain mail", "cuirass", "breastplate", "mitten"]),
    # places
    "mountain": ("mountains", ["mountain", "hill", "peak", "alps"], "scene", ["alp", "volcano", "valley"]),
    "cliff": ("a cliff", ["cliff", "rock", "canyon"], "scene", ["cliff", "promontory", "cliff dwelling"]),
    "beach": ("a beach", ["beach", "shore", "sea", "ocean", "sand", "coast"], "scene", ["seashore", "sandbar"]),
    "lake": ("a lake", ["lake", "pond", "river", "water"], "scene", ["lakeside", "boathouse"]),
    "reef": ("a coral reef", ["reef", "coral", "underwater"], "scene", ["coral reef", "brain coral",
                                                                      "sea anemone"]),
    "flower": ("flowers", ["flower", "daisy", "blossom", "bouquet"], "scene",
               ["daisy", "yellow lady's slipper", "rapeseed"]),
    "bridge": ("a bridge", ["bridge"], "scene", ["steel arch bridge", "suspension bridge", "viaduct"]),
    "church": ("a church", ["church", "cathedral", "chapel", "mosque", "temple", "monastery"], "scene",
               ["church", "mosque", "monastery", "bell cote", "stupa", "dome", "altar"]),
    "castle": ("a castle", ["castle", "palace"], "scene", ["castle", "palace"]),
    "shop": ("a shop", ["shop", "store", "market", "restaurant", "bakery", "cafe"], "scene",
             ["bakery", "barbershop", "butcher shop", "confectionery", "grocery store", "shoe shop",
              "tobacco shop", "toyshop", "restaurant"]),
    "fence": ("a fence", ["fence"], "scene", ["chainlink fence", "picket fence", "worm fence", "stone wall"]),
    "fountain": ("a fountain", ["fountain"], "scene", ["fountain", "geyser"]),
    "tent": ("a tent", ["tent"], "scene", ["mountain tent", "yurt"]),
    "traffic light": ("a traffic light", ["traffic light", "stoplight", "traffic signal"], "thing",
                      ["traffic light"]),
    "street sign": ("a street sign", ["sign", "street sign", "stop sign"], "thing", ["street sign"]),
    "parking meter": ("a parking meter", ["parking meter", "meter"], "thing", ["parking meter"]),
    "guitar": ("a guitar", ["guitar"], "thing", ["acoustic guitar", "electric guitar", "banjo"]),
    "piano": ("a piano", ["piano", "keyboard"], "thing", ["grand piano", "upright", "organ"]),
    "violin": ("a violin", ["violin", "cello", "fiddle"], "thing", ["violin", "cello"]),
    "drum": ("a drum", ["drum"], "thing", ["drum", "steel drum", "drumstick", "gong"]),
    "wind instrument": ("a musical instrument", ["trumpet", "horn", "saxophone", "sax", "flute",
                                                  "trombone", "instrument"], "thing",
                        ["bassoon", "cornet", "French horn", "flute", "oboe", "sax", "trombone", "harmonica",
                         "ocarina", "panpipe", "accordion", "brass"]),
    "camera": ("a camera", ["camera"], "thing", ["Polaroid camera", "reflex camera", "lens cap", "tripod"]),
    "balloon": ("a balloon", ["balloon"], "thing", ["balloon", "parachute"]),
    "candle": ("a candle", ["candle"], "thing", ["candle", "torch"]),
    "gun": ("a gun", ["gun", "rifle", "pistol"], "thing", ["assault rifle", "revolver", "rifle", "holster",
                                                           "cannon", "missile", "projectile"]),
    "tools": ("a tool", ["tool", "hammer", "screwdriver", "drill", "saw", "shovel", "axe"], "thing",
              ["hammer", "screwdriver", "power drill", "chain saw", "shovel", "hatchet", "cleaver",
               "carpenter's kit", "screw", "nail", "pick", "plane"]),
    "cutlery": ("kitchen utensils", ["spoon", "fork", "knife", "spatula", "ladle", "utensil"], "thing",
                ["wooden spoon", "spatula", "ladle", "can opener", "corkscrew", "letter opener", "strainer",
                 "measuring cup", "cocktail shaker", "saltshaker"]),
}

SAY_FIXES = {  # classes left alone, but named the way a person would say them
    "ashcan": "a trash can", "ballpoint": "a pen", "fountain pen": "a pen", "bannister": "a banister",
    "chiffonier": "a chest of drawers", "hand blower": "a hair dryer", "jack-o'-lantern": "a carved pumpkin",
    "rule": "a ruler", "sunglass": "sunglasses", "vacuum": "a vacuum cleaner", "washer": "a washing machine",
    "crane": "a construction crane", "hay": "hay", "bubble": "a bubble", "wool": "wool", "velvet": "velvet",
    "chain": "a chain", "pole": "a pole", "seat belt": "a seat belt", "tile roof": "a tiled roof",
    "thatch": "a thatched roof", "hip": "rose hips", "buckeye": "a chestnut", "acorn": "an acorn",
    "honeycomb": "a honeycomb", "spider web": "a spider web", "manhole cover": "a manhole cover",
}


def build(categories: list[str]) -> dict:
    """The data file's content for torchvision's category list."""
    index = {name: i for i, name in enumerate(categories)}
    owner: dict[int, str] = {}
    groups = []
    for name, (say, words, kind, classes) in GROUPS.items():
        ids = [index[c] if isinstance(c, str) else c for c in classes]
        for i in ids:
            if i in owner:
                raise ValueError(f"class {i} {categories[i]!r} is in both {owner[i]!r} and {name!r}")
            owner[i] = name
        groups.append({"name": name, "say": say, "words": words, "kind": kind, "classes": sorted(ids)})
    for i, cls in enumerate(categories):
        if i in owner:
            continue
        say = SAY_FIXES.get(cls) or (("an " if cls[0].lower() in "aeiou" else "a ") + cls.lower())
        groups.append({"name": cls.lower(), "say": say, "words": [cls.lower()], "kind": "thing", "classes": [i]})
    return {
        "source": "ImageNet-1k (ILSVRC-2012) classes in torchvision's order and names "
                  "(torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1.meta['categories'], torchvision 0.29); "
                  "grouping and spoken words by seesay (training/imagenet_words.py).",
        "classes": categories,
        "groups": groups,
    }


def main() -> int:
    import torchvision

    categories = list(torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])
    data = build(categories)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT}: {len(data['classes'])} classes in {len(data['groups'])} groups")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
